import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DiscardPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import pg from 'pg';
import { useTestDatabase } from '../../support/db.ts';
import { consumerDeliveries, deleteTestStream } from '../../support/jetstream.ts';
import { testEnv } from '../../support/env.ts';
import { requireService } from '../../support/services.ts';
import {
  checkNatsReachable,
  createNatsTransport,
  createNatsTransportInBackground,
  dropDeadLetter,
  ensureBusSchema,
  InvalidMessageError,
  SubscriptionSubjectMismatchError,
  listDeadLetters,
  newMessageId,
  pruneFailures,
  purgeClaimChecks,
  redriveDeadLetters,
  showDeadLetter,
  withClaimCheck,
  type Message,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { storeDeadLetter } from '../../../src/platform/messaging/deadLetters/storeDeadLetter.ts';
import { isUuid } from '../../../src/platform/ids/index.ts';
import { BrigadeError, UnavailableError } from '../../../src/platform/errors/index.ts';
import { message, token, waitFor } from './support.ts';
import { freePort } from '../../../src/platform/db/localPorts.ts';
import { loadConfig } from '../../../src/platform/config/index.ts';
import { silentProxy, type SilentProxy } from '../../support/silentProxy.ts';
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
  return { transport, pool, prefix, killableWorker: { kind: 'nats', dbUrl: database.db.url, natsUrl: testEnv.natsUrl, stream, subjects: [`${prefix}.>`] }, teardown: async () => undefined };
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

  test('a message the stream refuses for what it is (over max_msg_size, headers over 64 KiB) is MESSAGE_INVALID naming it; a refusal for the stream\'s state (full) stays an outage', async () => {
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
      // The refused message is the second of its batch: the error names it, not the batch's first.
      const big = message(`${base}.big.Happened`, { text: 'x'.repeat(4096) });
      const refusal = (field: string, m: { id: string; subject: string }, reason: RegExp) => (error: unknown) => {
        // Before, every refusal was an UnavailableError ("JetStream refused the message: message size …"), which the
        // relay took for an outage: it retried for ever without naming the row.
        assert.ok(error instanceof InvalidMessageError, String(error));
        assert.deepEqual({ ...error.details }, { field, messageId: m.id });
        assert.match(error.message, new RegExp(`stream ${small} refused message ${m.id} \\(${m.subject.replaceAll('.', '\\.')}\\)`));
        assert.match(error.message, reason);
        return true;
      };
      await assert.rejects(own.publish([message(`${base}.small.Happened`, { n: 2 }), big]), refusal('payload', big, /message size exceeds maximum allowed \(JetStream error 10054\).*max_msg_size/));
      // Headers over 64 KiB (a traceparent written by hand, say): JetStream's own limit, whatever max_msg_size.
      await jsm.streams.update(small, { ...info.config, max_msg_size: -1 });
      const header = message(`${base}.header.Happened`, { n: 3 }, { headers: { correlation: 'c', causation: '', tenant: '', traceparent: 'y'.repeat(70_000) } });
      await assert.rejects(own.publish([header]), refusal('headers', header, /header size exceeds maximum allowed of 64k \(JetStream error 10097\)/));
      // The stream full and refusing new messages (10077 "maximum messages exceeded"): a retry can succeed
      // once the operator changes the limit, so it stays UnavailableError.
      await jsm.streams.update(small, { ...info.config, max_msgs: 1, discard: DiscardPolicy.New });
      await assert.rejects(own.publish([message(`${base}.full.Happened`, { n: 4 })]), (error: Error) => error instanceof UnavailableError && /maximum messages exceeded \(JetStream error 10077\)/.test(error.message));
    } finally {
      await own.close();
      await jsm.streams.delete(small).catch(() => false);
      await nc.close();
    }
  });

  test('a message over the server\'s max_payload, which nats.js refuses before sending, is MESSAGE_INVALID naming it (the server would close the connection)', async () => {
    const own = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream, subjects: [`${prefix}.>`] });
    try {
      const huge = message(`${prefix}.huge.Happened`, { text: 'x'.repeat(1024 * 1024) });
      // Before, nats.js's own InvalidArgumentError ("'payload' max_payload size exceeded") came out as it
      // was: no Brigade error, so the relay reported it as an outage.
      await assert.rejects(own.publish([message(`${prefix}.huge.Happened`, { n: 1 }), huge]), (error: unknown) => {
        assert.ok(error instanceof InvalidMessageError, String(error));
        assert.deepEqual({ ...error.details }, { field: 'payload', messageId: huge.id });
        assert.match(error.message, /max_payload \(1048576 bytes, headers and body together\)/);
        return true;
      });
      // The connection is still up: the next publish goes.
      await own.publish([message(`${prefix}.huge.Happened`, { n: 2 })]);
    } finally {
      await own.close();
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
    await assert.rejects(transport!.redeliver(t, message(`${prefix}.other.Happened`, {})), (e: unknown) => e instanceof SubscriptionSubjectMismatchError && e.status === 409 && /takes .* not /.test(e.message));
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

describe('nats jetstream subscriptions', { skip: nats.skip }, () => {
  test('a new subscription is in the registry before its consumer takes messages: a claim-checked message published meanwhile never reaches it without a reference', async () => {
    const t = token();
    const sub = `${t}-reg`;
    const bus = withClaimCheck(transport!, { pool, thresholdBytes: 1024 });
    // Forced interleaving: the subscription's registry row waits for this transaction, and a
    // claim-checked message is published while it waits.
    const holder = await pool.connect();
    let ensuring: Promise<void> | undefined;
    const early = message(`${prefix}.${t}.big`, { blob: 'x'.repeat(4096) });
    try {
      await holder.query('begin');
      await holder.query('lock table brigade_bus.subscriptions in exclusive mode');
      ensuring = bus.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*` });
      ensuring.catch(() => undefined);
      await waitFor('the registry write waits for the lock', async () =>
        ((await pool.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'insert into brigade_bus.subscriptions%'`)).rowCount ?? 0) > 0,
      );
      await bus.publish([early]);
    } finally {
      await holder.query('commit');
      holder.release();
    }
    await ensuring;
    // No subscription held a reference to it at its publish: its payload goes with the next purge.
    await purgeClaimChecks(pool, { graceMs: 0 });
    const got: Message[] = [];
    const reported: unknown[] = [];
    const c = new AbortController();
    const w = bus.subscribe({ subscription: sub, maxAttempts: 1, signal: c.signal, onError: (e) => void reported.push(e) }, async (m) => void got.push(m));
    const later = message(`${prefix}.${t}.small`, { n: 1 });
    await bus.publish([later]);
    await waitFor('the later message', () => got.some((m) => m.id === later.id));
    c.abort();
    await w.done;
    // Before, the consumer was created first: it took the early message, whose payload was purged,
    // and parked it as CLAIM_CHECK_MISSING.
    assert.deepEqual(got.map((m) => m.id), [later.id]);
    assert.deepEqual(await listDeadLetters(pool, { subscription: sub }), []);
    assert.deepEqual(reported, []);
  });
});

describe('nats jetstream redrives', { skip: nats.skip }, () => {
  test('one message parked by two subscriptions, both letters redriven at once in the same millisecond: each subscription gets it', async () => {
    const t = token();
    const subs = [`${t}-a`, `${t}-b`];
    for (const sub of subs) await transport!.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*` });
    const poison = message(`${prefix}.${t}.Poison`, { n: 1 });
    const got = new Map<string, Message[]>(subs.map((sub) => [sub, []]));
    const stop = new AbortController();
    const workers = subs.map((sub) => transport!.subscribe({ subscription: sub, signal: stop.signal }, async (m) => void got.get(sub)!.push(m)));
    try {
      const letters: string[] = [];
      for (const sub of subs) {
        const { rows } = await pool.query<{ id: string }>(
          `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
           values (gen_random_uuid(), $1, $2, $3, $4, $5, $6, 'it failed', 5, now(), now(), 'nats') returning id::text as id`,
          [sub, poison.id, poison.subject, poison.key, JSON.stringify(poison.headers), JSON.stringify(poison.payload)],
        );
        letters.push(rows[0]!.id);
      }
      // The clock pinned: both redrives publish within one millisecond, as two operators' may.
      const now = Date.now;
      const pinned = now();
      Date.now = () => pinned;
      let outcomes;
      try {
        outcomes = await Promise.all(letters.map((id) => redriveDeadLetters(pool, transport!, { id })));
      } finally {
        Date.now = now;
      }
      assert.deepEqual(outcomes, [{ redriven: 1, failed: [] }, { redriven: 1, failed: [] }]);
      assert.deepEqual(await listDeadLetters(pool, { subscription: subs[0]! }), []);
      // Before, the second redrive got the first's Nats-Msg-Id, JetStream dropped it as a duplicate and
      // its letter was deleted all the same: one subscription never got the message.
      await waitFor('both subscriptions got the redriven message', () => subs.every((sub) => got.get(sub)!.some((m) => m.id === poison.id)));
      for (const sub of subs) assert.deepEqual(got.get(sub)!.map((m) => [m.id, m.attempt]), [[poison.id, 1]], sub);
    } finally {
      stop.abort();
      await Promise.all(workers.map((w) => w.done));
    }
  });

  test('a letter the stream refuses for its size is a failure of the letter: redrive --all reports it and goes on, a redrive by id says MESSAGE_INVALID', async () => {
    const small = `BRIGADE_TEST_${token().toUpperCase()}`;
    const base = token();
    const own = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: small, subjects: [`${base}.>`] });
    const nc = await connect({ servers: testEnv.natsUrl });
    const jsm = await jetstreamManager(nc);
    try {
      const sub = `${base}-letters`;
      await own.ensureSubscription({ subscription: sub, pattern: `${base}.letters.*` });
      await jsm.streams.update(small, { ...(await jsm.streams.info(small)).config, max_msg_size: 1024 });
      // The big one parked first (ids are time-ordered): before, its refusal read as the transport down,
      // and the redrive stopped there with REDRIVE_INTERRUPTED, the small one untried.
      const letters: string[] = [];
      for (const m of [message(`${base}.letters.Big`, { text: 'x'.repeat(4096) }), message(`${base}.letters.Small`, { n: 1 })]) {
        const id = newMessageId();
        await pool.query(
          `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
           values ($1, $2, $3, $4, $5, $6, $7, 'it failed', 5, now(), now(), 'nats')`,
          [id, sub, m.id, m.subject, m.key, JSON.stringify(m.headers), JSON.stringify(m.payload)],
        );
        letters.push(id);
      }
      const [big, smallLetter] = letters;
      const outcome = await redriveDeadLetters(pool, own, { all: true, subscription: sub });
      assert.equal(outcome.redriven, 1);
      assert.deepEqual(outcome.failed.map((f) => f.id), [big]);
      assert.match(outcome.failed[0]!.error, /message size exceeds maximum allowed \(JetStream error 10054\)/);
      assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((l) => l.id), [big], `the small letter ${smallLetter} went back, the big one stays`);
      await assert.rejects(redriveDeadLetters(pool, own, { id: big! }), (error: unknown) => error instanceof InvalidMessageError && error.details.field === 'payload');
    } finally {
      await own.close();
      await jsm.streams.delete(small).catch(() => false);
      await nc.close();
    }
  });
});

describe('nats jetstream: one dead letter per message', { skip: nats.skip }, () => {
  test('a last attempt whose letter is slow to store keeps its lease: the message is parked once, and a redrive runs it once', async () => {
    // Worker A's bus database answers the dead-letter insert only after 2.5 s (an I/O stall, a lock
    // wait), two and a half leases: before, the server redelivered the message meanwhile, and worker B
    // parked it a second time.
    const slowPool = database.pool(5);
    const query = slowPool.query.bind(slowPool) as (...args: unknown[]) => Promise<unknown>;
    (slowPool as unknown as { query: unknown }).query = async (...args: unknown[]) => {
      const result = await query(...args);
      if (typeof args[0] === 'string' && args[0].includes('insert into brigade_bus.dead_letters')) await new Promise((r) => setTimeout(r, 2500));
      return result;
    };
    const a = await createNatsTransport({ servers: testEnv.natsUrl, pool: slowPool, stream, subjects: [`${prefix}.>`] });
    database.defer(() => a.close());
    const t = token();
    const sub = `${t}-slowpark`;
    await transport!.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*`, leaseMs: 1000 });
    const runs: Message[] = [];
    let fixed = false;
    const handler = async (m: Message) => {
      runs.push(m);
      if (!fixed) throw new Error('always fails');
    };
    const ca = new AbortController();
    const cb = new AbortController();
    const wa = a.subscribe({ subscription: sub, maxAttempts: 1, signal: ca.signal }, handler);
    const m = message(`${prefix}.${t}.x`, {});
    await transport!.publish([m]);
    await waitFor('A ran it', () => runs.length === 1);
    const wb = transport!.subscribe({ subscription: sub, maxAttempts: 1, signal: cb.signal }, handler);
    await waitFor('settled', async () => (await consumerDeliveries(stream, sub)).ackPending === 0, 15_000, 100);
    await new Promise((r) => setTimeout(r, 1500)); // a lease more: a second delivery would show
    ca.abort();
    await wa.done;
    const letters = await listDeadLetters(pool, { subscription: sub });
    assert.equal(letters.length, 1, 'parked once');
    assert.deepEqual(await consumerDeliveries(stream, sub), { delivered: 1, redelivered: 0, ackPending: 0 }, 'A kept its lease while it stored the letter');
    assert.equal(runs.length, 1);
    fixed = true;
    assert.deepEqual(await redriveDeadLetters(pool, transport!, { all: true, subscription: sub }), { redriven: 1, failed: [], left: 0, next: null });
    await waitFor('the redriven message handled', () => runs.length === 2);
    await new Promise((r) => setTimeout(r, 500));
    cb.abort();
    await wb.done;
    assert.equal(runs.length, 2, 'the redrive ran it once');
    assert.deepEqual(await listDeadLetters(pool, { subscription: sub }), []);
  });

  test('a message parked by a worker that died before its TERM is settled when it comes back: not run, not parked again', async () => {
    const t = token();
    const sub = `${t}-died`;
    await transport!.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*`, leaseMs: 1000 });
    const m = message(`${prefix}.${t}.x`, {});
    await transport!.publish([m]);
    // The worker that parked it: it took the delivery, stored the letter and died before its TERM.
    const nc = await connect({ servers: testEnv.natsUrl });
    let letterId: string | null;
    try {
      const delivery = await (await jetstream(nc).consumers.get(stream, sub)).next({ expires: 5000 });
      assert.ok(delivery !== null, 'delivered to the worker that died');
      letterId = await storeDeadLetter(pool, { subscription: sub, message: m, error: 'Error: it failed', attempts: 5, transport: 'nats' });
    } finally {
      await nc.close();
    }
    const runs: Message[] = [];
    const c = new AbortController();
    const w = transport!.subscribe({ subscription: sub, maxAttempts: 5, signal: c.signal }, async (msg) => void runs.push(msg));
    await waitFor('the redelivery settled', async () => {
      const d = await consumerDeliveries(stream, sub);
      return d.delivered >= 2 && d.ackPending === 0;
    }, 15_000, 100);
    // Before, the redelivery was run (attempt 2 of 5) though the message was parked, and a redrive then ran it again.
    assert.equal(runs.length, 0, 'not run');
    assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((l) => l.id), [letterId]);
    assert.deepEqual(await redriveDeadLetters(pool, transport!, { id: letterId! }), { redriven: 1, failed: [] });
    await waitFor('the redriven message handled', () => runs.length === 1);
    c.abort();
    await w.done;
    assert.deepEqual(runs.map((r) => [r.id, r.attempt]), [[m.id, 1]]);
    // The letter store itself keeps one letter per subscription and message: the first.
    const first = await storeDeadLetter(pool, { subscription: sub, message: m, error: 'Error: first', attempts: 1, transport: 'nats' });
    assert.equal(await storeDeadLetter(pool, { subscription: sub, message: m, error: 'Error: second', attempts: 1, transport: 'nats' }), null);
    assert.deepEqual((await listDeadLetters(pool, { subscription: sub })).map((l) => [l.id, l.error]), [[first, 'Error: first']]);
  });
});

describe('nats jetstream stream settings', { skip: nats.skip }, () => {
  test('a transport that only checks the stream (manageStream: false) leaves its settings as they are, and refuses a stream that does not exist', async () => {
    const own = `BRIGADE_TEST_${token().toUpperCase()}`;
    const subjects = [`${token()}.>`];
    const nc = await connect({ servers: testEnv.natsUrl });
    const jsm = await jetstreamManager(nc);
    const settings = async () => {
      const { config } = await jsm.streams.info(own);
      return { subjects: config.subjects, duplicateWindowMs: config.duplicate_window / 1e6, maxAgeMs: config.max_age / 1e6, replicas: config.num_replicas };
    };
    try {
      // The stream as the running platform set it up (NATS_STREAM_MAX_AGE_MS=2 days, MESSAGE_DEDUPE_WINDOW_MS=5 min).
      await (await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: own, subjects, duplicateWindowMs: 300_000, maxAgeMs: 2 * 24 * 3_600_000 })).close();
      const before = await settings();
      // A one-shot command (brigade dlq redrive) from a shell without those variables: the defaults, other subjects.
      const checker = await createNatsTransport({ servers: testEnv.natsUrl, pool, stream: own, subjects: [`${token()}.>`], manageStream: false });
      await checker.close();
      assert.deepEqual(await settings(), before);
      assert.deepEqual(before, { subjects, duplicateWindowMs: 300_000, maxAgeMs: 2 * 24 * 3_600_000, replicas: 1 });
      const missing = `BRIGADE_TEST_${token().toUpperCase()}`;
      await assert.rejects(
        createNatsTransport({ servers: testEnv.natsUrl, pool, stream: missing, subjects, manageStream: false }),
        (e: unknown) => e instanceof UnavailableError && e.message.includes(`stream ${missing} does not exist`),
      );
      await assert.rejects(jsm.streams.info(missing), 'the check created nothing');
    } finally {
      await jsm.streams.delete(own).catch(() => false);
      await nc.close();
    }
  });
});

describe('nats jetstream: what follows a handled message', { skip: nats.skip }, () => {
  test('a message handled on a retry whose failures row cannot be deleted (a database blip) is acked and the failure reported: not run again, not parked', async () => {
    const t = token();
    const sub = `${t}-blip`;
    const leaseMs = 500;
    await transport!.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*`, leaseMs });
    // The bus database refuses to delete this subscription's failures rows while the blip lasts.
    const trigger = `refuse_${t}`;
    await pool.query(`create function brigade_bus.${trigger}() returns trigger language plpgsql as $$ begin raise exception 'database blip'; end $$`);
    await pool.query(`create trigger ${trigger} before delete on brigade_bus.failures for each row when (old.subscription = '${sub}') execute function brigade_bus.${trigger}()`);
    const runs: number[] = [];
    const reported: unknown[] = [];
    const c = new AbortController();
    const w = transport!.subscribe(
      { subscription: sub, maxAttempts: 2, backoff: { initialMs: 10, maxMs: 10 }, signal: c.signal, onError: (e) => void reported.push(e) },
      async (m) => {
        runs.push(m.attempt);
        if (m.attempt === 1) throw new Error('the first attempt fails');
      },
    );
    const sent = message(`${prefix}.${t}.Happened`, { n: 1 });
    try {
      await transport!.publish([sent]);
      await waitFor('the failed clean-up reported', () => reported.length > 0);
      // Three leases of the blip: a message left unacked comes back meanwhile, past its last attempt.
      await new Promise((r) => setTimeout(r, 3 * leaseMs));
    } finally {
      await pool.query(`drop trigger ${trigger} on brigade_bus.failures; drop function brigade_bus.${trigger}()`);
    }
    // The blip over: before, the next delivery parked it as MESSAGE_ATTEMPTS_EXHAUSTED ("a worker was lost mid-handle").
    await new Promise((r) => setTimeout(r, 3 * leaseMs));
    c.abort();
    await w.done;
    assert.deepEqual(runs, [1, 2], 'the handler ran twice: the failure and the success');
    assert.deepEqual(await listDeadLetters(pool, { subscription: sub }), [], 'a handled message is not parked');
    assert.deepEqual(await consumerDeliveries(stream, sub), { delivered: 2, redelivered: 0, ackPending: 0 }, 'acked on its second delivery (none pending), not delivered again');
    const error = reported[0] as { code?: string; message?: string };
    assert.equal(error.code, 'MESSAGE_FAILURES_CLEANUP_FAILED');
    assert.match(error.message ?? '', new RegExp(`^Message ${sent.id} was handled by ${sub} on attempt 2 and acked, but its failures row could not be deleted \\(database blip\\)`));
    assert.equal(reported.length, 1, 'nothing else went wrong');
    // The row stays (harmless: only a later failure of the same message in this subscription would date from it).
    assert.equal((await pool.query('select 1 from brigade_bus.failures where subscription = $1 and message_id = $2', [sub, sent.id])).rowCount, 1);
  });
});

describe('nats jetstream: failures rows and the bus retention (decision 0016, "Fixed later")', { skip: nats.skip }, () => {
  test('a message still being retried keeps its failures row from the prune, however old its first failure; a row left behind goes', async () => {
    const t = token();
    const sub = `${t}-retried`;
    await transport!.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*` });
    // Left behind (a handled retry whose delete failed): nothing writes it again.
    const leftover = newMessageId();
    await pool.query(`insert into brigade_bus.failures (subscription, message_id, first_failed_at, last_failed_at) values ($1, $2, now() - interval '8 days', now() - interval '8 days')`, [sub, leftover]);
    const m = message(`${prefix}.${t}.Retried`, { n: 1 });
    const DAY_MS = 86_400_000;
    const kept: boolean[] = [];
    const c = new AbortController();
    const w = transport!.subscribe({ subscription: sub, maxAttempts: 3, backoff: { initialMs: 10, maxMs: 10 }, signal: c.signal }, async (got) => {
      if (got.attempt === 2) {
        // The row as a message published again under the same id finds it: first failed 8 days ago, and
        // not written since (as old as a leftover, until this attempt's failure writes it again).
        await pool.query(`update brigade_bus.failures set first_failed_at = now() - interval '8 days', last_failed_at = now() - interval '8 days' where message_id = $1`, [got.id]);
      }
      if (got.attempt === 3) {
        // The retention's pass while the last attempt runs: the row attempt 2 wrote stays.
        await pruneFailures(pool, { streamMaxAgeMs: 7 * DAY_MS });
        kept.push((await pool.query('select 1 from brigade_bus.failures where subscription = $1 and message_id = $2', [sub, got.id])).rowCount === 1);
      }
      throw new Error(`attempt ${got.attempt} failed`);
    });
    try {
      await transport!.publish([m]);
      await waitFor('parked', async () => (await listDeadLetters(pool, { subscription: sub })).length === 1);
      assert.deepEqual(kept, [true], 'the prune kept the row of the message in retry');
      const [letter] = await listDeadLetters(pool, { subscription: sub });
      assert.equal(letter!.attempts, 3);
      // The letter's first failure is the row's, 8 days ago: the row was there when the message was parked.
      assert.ok(Date.now() - letter!.firstFailedAt.getTime() > 7 * DAY_MS, String(letter!.firstFailedAt));
      assert.equal((await pool.query('select 1 from brigade_bus.failures where message_id = $1', [leftover])).rowCount, 0, 'the row left behind went');
    } finally {
      c.abort();
      await w.done;
    }
  });
});

describe('nats jetstream: messages published onto the stream outside the platform', { skip: nats.skip }, () => {
  test('one the transport cannot take (a body not JSON, no message id or one not a UUID, a \\u0000 PostgreSQL cannot store) is parked at once, never run, and its letter says what it is', async () => {
    const t = token();
    const sub = `${t}-raw`;
    const subject = (type: string) => `${prefix}.${t}.${type}`;
    await transport!.ensureSubscription({ subscription: sub, pattern: `${prefix}.${t}.*`, leaseMs: 300 });
    const handled: string[] = [];
    const reported: unknown[] = [];
    const c = new AbortController();
    const w = transport!.subscribe({ subscription: sub, maxAttempts: 3, backoff: { initialMs: 10, maxMs: 10 }, signal: c.signal, onError: (e) => void reported.push(e) }, async (m) => {
      handled.push(m.id);
    });
    // As `nats pub` or a client in another language would publish.
    const nc = await connect({ servers: testEnv.natsUrl });
    const sequences = new Map<string, number>();
    const publishRaw = async (type: string, body: string | Uint8Array, id?: string) => {
      const h = headers();
      if (id !== undefined) h.set('Nats-Msg-Id', id);
      h.set('Brigade-Key', `k-${type}`);
      h.set('Brigade-H-source', 'elsewhere');
      sequences.set(subject(type), (await jetstream(nc).publish(subject(type), body, { headers: h })).seq);
    };
    const notJsonId = newMessageId();
    // An escaped backslash before u0000 is text PostgreSQL stores: that one is the platform's kind of message.
    const escapedId = newMessageId();
    try {
      await publishRaw('NotJson', 'not json', notJsonId);
      await publishRaw('NoId', '{"n":1}');
      await publishRaw('BadId', '{"n":2}', 'order-42');
      await publishRaw('Binary', new Uint8Array([0xff, 0x00, 0x01]), newMessageId());
      await publishRaw('Nul', '{"text":"a\\u0000b"}', newMessageId());
      await publishRaw('Escaped', '{"text":"a\\\\u0000b"}', escapedId);
    } finally {
      await nc.close();
    }
    const fine = message(subject('Fine'), { n: 3 });
    await transport!.publish([fine]);
    try {
      await waitFor('five parked and the good ones handled', async () => handled.length === 2 && (await listDeadLetters(pool, { subscription: sub })).length === 5);
      // Several leases: one left unsettled would come back meanwhile (before, the first came back every 300 ms, for ever).
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      c.abort();
      await w.done;
    }
    assert.deepEqual(handled, [escapedId, fine.id], 'no handler ran what the transport could not take');
    assert.deepEqual(reported, []);
    assert.deepEqual(await consumerDeliveries(stream, sub), { delivered: 7, redelivered: 0, ackPending: 0 }, 'each delivered once and settled');

    const letters = new Map((await listDeadLetters(pool, { subscription: sub })).map((l) => [l.message.subject, l]));
    const expected: Record<string, { payload: string; problem: RegExp; id?: string; extra?: Record<string, string> }> = {
      NotJson: { payload: 'not json', problem: /^its body is not JSON \(.+\)$/, id: notJsonId },
      NoId: { payload: '{"n":1}', problem: /^it has no message id \(Nats-Msg-Id\)$/ },
      BadId: { payload: '{"n":2}', problem: /^its message id "order-42" is not a UUID$/, extra: { 'brigade-sent-message-id': 'order-42' } },
      Binary: { payload: '/wAB', problem: /^its body is not JSON \(.+\)$/, extra: { 'brigade-body-encoding': 'base64' } },
      Nul: { payload: '{"text":"a\\u0000b"}', problem: /^its body holds a \\u0000, which PostgreSQL cannot store$/ },
    };
    for (const [type, want] of Object.entries(expected)) {
      const letter = letters.get(subject(type));
      assert.ok(letter, type);
      const seq = String(sequences.get(subject(type)));
      assert.equal(letter.message.payload, want.payload, `${type}: the body as it came, as text`);
      assert.equal(letter.message.key, `k-${type}`);
      assert.equal(letter.message.headers.source, 'elsewhere');
      assert.equal(letter.message.headers['brigade-stream-sequence'], seq, type);
      assert.match(letter.message.headers['brigade-undecodable'] ?? '', want.problem, type);
      for (const [name, value] of Object.entries(want.extra ?? {})) assert.equal(letter.message.headers[name], value, `${type}: ${name}`);
      if (want.id !== undefined) assert.equal(letter.message.id, want.id, `${type}: its own id, a UUID`);
      assert.ok(isUuid(letter.message.id), `${type}: a message id of its own when it has none that can be stored`);
      assert.deepEqual([letter.attempts, letter.transport], [0, 'nats'], `${type}: no handler ran it`);
      assert.ok(
        letter.error.startsWith(
          `UndecodableMessageError [MESSAGE_UNDECODABLE]: Message ${seq} of stream ${stream} on ${subject(type)} (subscription ${sub}) cannot be handled: ${letter.message.headers['brigade-undecodable']}. `,
        ),
        letter.error,
      );
      assert.ok(letter.error.endsWith(`published onto the stream outside the platform: fix its publisher, then 'brigade dlq drop ${letter.id}'`), letter.error);
    }

    // show as listed; a redrive refuses them (they would only be parked again) and sends nothing; a drop removes them.
    const notJson = letters.get(subject('NotJson'))!;
    assert.deepEqual(await showDeadLetter(pool, notJson.id), notJson);
    await assert.rejects(redriveDeadLetters(pool, transport!, { id: notJson.id }), (e: unknown) => {
      assert.ok(e instanceof BrigadeError);
      assert.deepEqual([e.code, e.status], ['DEAD_LETTER_UNDECODABLE', 409]);
      assert.match(e.message, new RegExp(`^Dead letter ${notJson.id} cannot go back: .*its body is not JSON.*'brigade dlq drop ${notJson.id}'$`));
      return true;
    });
    const outcome = await redriveDeadLetters(pool, transport!, { all: true, subscription: sub });
    assert.equal(outcome.redriven, 0);
    assert.deepEqual(outcome.failed.map((f) => f.id).sort(), [...letters.values()].map((l) => l.id).sort());
    assert.ok(outcome.failed.every((f) => f.error.includes('cannot go back')));
    for (const letter of letters.values()) await dropDeadLetter(pool, letter.id);
    assert.deepEqual(await listDeadLetters(pool, { subscription: sub }), []);
    assert.deepEqual(await consumerDeliveries(stream, sub), { delivered: 7, redelivered: 0, ackPending: 0 }, 'no redrive was published');
  });
});

describe('nats jetstream: the servers NATS_URL lists, and a connection made in the background', { skip: nats.skip }, () => {
  // Found by a review: NATS_URL took one URL only, so with its one server down the process could not
  // start although another node of the cluster was up.
  test('a NATS_URL listing a server nobody answers at first and the live one second connects to the live one', async () => {
    const own = `BRIGADE_TEST_${token().toUpperCase()}`;
    const base = token();
    const dead = `nats://127.0.0.1:${await freePort()}`;
    const servers = loadConfig({ NATS_URL: `${dead}, ${testEnv.natsUrl}` }, { services: ['platform'] }).natsUrl;
    assert.ok(servers !== null);
    const stop = new AbortController();
    try {
      // nats.js tries the servers in a random order: ten checks try the dead one first about ten times
      // over (with maxReconnectAttempts: 0 every such check lost the live one too, and was refused).
      for (let i = 0; i < 10; i++) await checkNatsReachable(servers);
      const listed = await createNatsTransport({ servers, pool, stream: own, subjects: [`${base}.>`] });
      try {
        await listed.ensureSubscription({ subscription: `${base}-listed`, pattern: `${base}.listed.*` });
        const handled: string[] = [];
        void listed.subscribe({ subscription: `${base}-listed`, signal: stop.signal }, async (m) => {
          handled.push(m.id);
        });
        const sent = message(`${base}.listed.Happened`, { n: 1 });
        await listed.publish([sent]);
        await waitFor('the message handled', () => handled.includes(sent.id));
      } finally {
        stop.abort();
        await listed.close();
      }
      // Every server down: the error names them all.
      await assert.rejects(checkNatsReachable([dead, `nats://127.0.0.1:${await freePort()}`]), /NATS is not reachable at nats:\/\/127\.0\.0\.1:\d+, nats:\/\/127\.0\.0\.1:\d+: /);
    } finally {
      await deleteTestStream(own);
    }
  });

  // Found by a review: `brigade serve` runs no relay, consumer or saga, yet refused to start while NATS
  // was down: its only use of the broker is the admin redrive. It now connects in the background.
  test('in the background: created at once while nobody answers, a redrive refused with 503 saying what to do, then connected once the server answers', async () => {
    const own = `BRIGADE_TEST_${token().toUpperCase()}`;
    const base = token();
    const port = await freePort();
    const troubles: Error[] = [];
    let connectedAt = 0;
    const started = Date.now();
    const background = createNatsTransportInBackground({
      servers: `nats://127.0.0.1:${port}`,
      pool,
      stream: own,
      subjects: [`${base}.>`],
      retryMs: { first: 50, max: 200 },
      onTrouble: (error) => troubles.push(error),
      onConnected: () => (connectedAt = Date.now()),
    });
    let proxy: SilentProxy | undefined;
    try {
      assert.ok(Date.now() - started < 1000, 'created without waiting for the broker');
      assert.equal(background.kind, 'nats');
      assert.equal(background.isConnected(), false);
      await assert.rejects(background.redeliver(`${base}-sub`, message(`${base}.x.Happened`, { n: 1 })), (error: unknown) => {
        assert.ok(error instanceof UnavailableError, String(error));
        assert.equal(error.status, 503);
        assert.match(error.message, new RegExp(`^NATS is not connected at nats://127\\.0\\.0\\.1:${port}: this process keeps trying in the background\\. Check that the server is up \\(nats-server -js\\) and that NATS_URL names it, then try again: /health/ready shows "nats" ok once it is connected`));
        return true;
      });
      await assert.rejects(background.publish([message(`${base}.x.Happened`, { n: 1 })]), UnavailableError);
      await waitFor('the first failure reported', () => troubles.length > 0);
      // Said once, not at every retry.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(troubles.length, 1, troubles.map((e) => e.message).join('\n'));
      assert.match(troubles[0]!.message, /NATS is not reachable at nats:\/\/127\.0\.0\.1:\d+/);
      // The server comes up on that port.
      proxy = await silentProxy(testEnv.natsUrl, port);
      await waitFor('connected', () => background.isConnected());
      assert.ok(connectedAt > 0);
      await background.ensureSubscription({ subscription: `${base}-sub`, pattern: `${base}.x.*` });
      const handled: string[] = [];
      const stop = new AbortController();
      void background.subscribe({ subscription: `${base}-sub`, signal: stop.signal }, async (m) => {
        handled.push(m.id);
      });
      const sent = message(`${base}.x.Happened`, { n: 2 });
      await background.publish([sent]);
      await waitFor('handled once connected', () => handled.includes(sent.id));
      stop.abort();
    } finally {
      await background.close();
      await proxy?.close();
      await deleteTestStream(own);
    }
  });

  test('in the background: closed before it connects, it stops trying and leaves nothing open', async () => {
    const port = await freePort();
    const troubles: Error[] = [];
    const own = `BRIGADE_TEST_${token().toUpperCase()}`;
    const background = createNatsTransportInBackground({ servers: `nats://127.0.0.1:${port}`, pool, stream: own, subjects: [`${token()}.>`], retryMs: { first: 20, max: 20 }, onTrouble: (e) => troubles.push(e) });
    await waitFor('the first failure reported', () => troubles.length > 0);
    await background.close();
    // A server that comes up afterwards is not connected to.
    const proxy = await silentProxy(testEnv.natsUrl, port);
    try {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(background.isConnected(), false);
      await assert.rejects(background.publish([message('x.y.Z', { n: 1 })]), UnavailableError);
    } finally {
      await proxy.close();
      await deleteTestStream(own);
    }
  });
});
