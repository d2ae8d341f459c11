import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { useTestDatabase } from '../../support/db.ts';
import { deleteTestStream } from '../../support/jetstream.ts';
import { testEnv } from '../../support/env.ts';
import { requireService } from '../../support/services.ts';
import { createNatsTransport, ensureBusSchema, InvalidMessageError, type Transport } from '../../../src/platform/messaging/index.ts';
import { BrigadeError, UnavailableError } from '../../../src/platform/errors/index.ts';
import { message, token } from './support.ts';
import { transportContract } from './transportContract.ts';

const nats = await requireService('nats');
const stream = `BRIGADE_TEST_${token().toUpperCase()}`;
const prefix = token();
const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport | undefined;

before(async () => {
  await database.ready;
  pool = database.pool(10);
  // Clean-ups run last-first: the contract's transport closes, then the stream is deleted.
  if (!nats.skip) database.defer(() => deleteTestStream(stream));
  database.defer(() => transport?.close());
  await ensureBusSchema(pool);
});

transportContract('nats jetstream', nats.skip, async () => {
  transport = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream, subjects: [`${prefix}.>`] });
  return { transport, pool, prefix, teardown: async () => undefined };
});

describe('nats jetstream publish acks', { skip: nats.skip }, () => {
  test('a subject no stream stores is refused by the server (no responders), not by the timeout', async () => {
    const own = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream, subjects: [`${prefix}.>`] });
    try {
      // The server's no-responders status, not the batch timeout ("did not ack within").
      await assert.rejects(own.publish([message(`${token()}.nowhere.Happened`, { n: 1 })]), (error: Error) => error instanceof UnavailableError && /No JetStream stream stores/.test(error.message));
      // The same connection still publishes where a stream listens.
      await own.publish([message(`${prefix}.acks.Happened`, { n: 2 }), message(`${prefix}.acks.Happened`, { n: 3 })]);
    } finally {
      await own.close();
    }
  });

  test('a message the stream refuses (an error PubAck) rejects the publish with the server\'s reason; stored ones still resolve', async () => {
    const small = `BRIGADE_TEST_${token().toUpperCase()}`;
    const subjects = [`${token()}.>`];
    const own = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: small, subjects });
    const nc = await connect({ servers: testEnv.natsUrl });
    const jsm = await jetstreamManager(nc);
    try {
      const info = await jsm.streams.info(small);
      await jsm.streams.update(small, { ...info.config, max_msg_size: 1024 });
      const base = subjects[0]!.slice(0, -2);
      await own.publish([message(`${base}.small.Happened`, { n: 1 })]);
      await assert.rejects(own.publish([message(`${base}.big.Happened`, { text: 'x'.repeat(4096) })]), (error: Error) => error instanceof UnavailableError && /JetStream refused the message: .*size/i.test(error.message));
    } finally {
      await own.close();
      await jsm.streams.delete(small).catch(() => false);
      await nc.close();
    }
  });

  test('the stream keeps messages for maxAgeMs and dedupes within duplicateWindowMs, and a restart with new values updates them', async () => {
    const own = `BRIGADE_TEST_${token().toUpperCase()}`;
    const subjects = [`${token()}.>`];
    const nc = await connect({ servers: testEnv.natsUrl });
    const jsm = await jetstreamManager(nc);
    const windows = async () => {
      const { config } = await jsm.streams.info(own);
      return { duplicateWindowMs: config.duplicate_window / 1e6, maxAgeMs: config.max_age / 1e6 };
    };
    try {
      await (await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: own, subjects })).close();
      assert.deepEqual(await windows(), { duplicateWindowMs: 120_000, maxAgeMs: 7 * 24 * 3_600_000 }, 'the defaults');
      await (await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: own, subjects, duplicateWindowMs: 300_000, maxAgeMs: 2 * 24 * 3_600_000 })).close();
      assert.deepEqual(await windows(), { duplicateWindowMs: 300_000, maxAgeMs: 2 * 24 * 3_600_000 });
    } finally {
      await jsm.streams.delete(own).catch(() => false);
      await nc.close();
    }
  });

  test('a redelivery to a subscription whose filter does not take the subject is refused, not published to be skipped by every consumer', async () => {
    const t = token();
    await transport!.ensureSubscription({ subscription: t, pattern: `${prefix}.${t}.*` });
    await assert.rejects(transport!.redeliver(t, message(`${prefix}.other.Happened`, {})), (e: unknown) => e instanceof InvalidMessageError && /takes .* not /.test(e.message));
    await transport!.redeliver(t, message(`${prefix}.${t}.Happened`, {}));
  });

  test('a stream that cannot be set up (its subjects overlap another stream\'s) fails with what to check, and the connection is closed', async () => {
    const subjects = [`${token()}.>`];
    const first = `BRIGADE_TEST_${token().toUpperCase()}`;
    const own = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: first, subjects });
    try {
      await assert.rejects(
        createNatsTransport({ servers: testEnv.natsUrl, pool, stream: `BRIGADE_TEST_${token().toUpperCase()}`, subjects }),
        (e: unknown) => e instanceof UnavailableError && /^JetStream setup of stream .* failed \(.*\): is nats-server started with -js/.test(e.message),
      );
    } finally {
      await own.close();
      await deleteTestStream(first);
    }
  });

  test('a subscription whose pattern changes: the consumer filter follows, or (on a server that cannot change it) a typed refusal and an unchanged registry', async () => {
    const t = token();
    await transport!.ensureSubscription({ subscription: t, pattern: `${prefix}.${t}.a` });
    const registered = async () => (await pool.query<{ pattern: string }>('select pattern from brigade_bus.subscriptions where name = $1', [t])).rows[0]?.pattern;
    const nc = await connect({ servers: testEnv.natsUrl });
    try {
      const filter = async () => (await (await jetstreamManager(nc)).consumers.info(stream, t)).config.filter_subject;
      const changed = await transport!.ensureSubscription({ subscription: t, pattern: `${prefix}.${t}.b` }).then(
        () => true,
        (e: unknown) => {
          assert.ok(e instanceof BrigadeError && e.code === 'SUBSCRIPTION_PATTERN_FIXED', String(e));
          assert.match(e.message, /use a new subscription name, or delete the consumer/);
          return false;
        },
      );
      const expected = changed ? `${prefix}.${t}.b` : `${prefix}.${t}.a`;
      assert.deepEqual([await filter(), await registered()], [expected, expected], 'the consumer and the registry agree');
    } finally {
      await nc.close();
    }
  });
});
