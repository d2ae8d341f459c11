import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createNatsTransport, createPgTransport, inboxHandler, inboxSchemaSql, type Message } from '../../../src/platform/messaging/index.ts';
import { createRelay, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { deleteTestStream } from '../../support/jetstream.ts';
import { fixtureProcesses } from '../../support/fixtureProcesses.ts';
import { testEnv } from '../../support/env.ts';
import { requireService } from '../../support/services.ts';
import { outboxRows, produce, token, waitFor } from './support.ts';

/** The xmin horizon is cluster-wide: other test files' open transactions delay delivery (decision 0011). */
const DELIVERY_MS = 120_000;
const nats = await requireService('nats');
const stream = `BRIGADE_TEST_${token().toUpperCase()}`;
/**
 * A subject prefix of this file's own, so its stream overlaps no other stream on the shared server;
 * under `delivery.`, since the relay of the delivery outbox publishes only delivery's subjects.
 */
const prefix = `delivery.${token()}`;
const database = useTestDatabase();
let pool: pg.Pool;
const children = fixtureProcesses();

before(async () => {
  await database.ready;
  pool = database.pool(10);
  // Clean-ups run last-first: each test's transport closes, the relay processes are killed, the stream is deleted.
  if (!nats.skip) database.defer(() => deleteTestStream(stream));
  database.defer(() => children.killAll());
  await pool.query(inboxSchemaSql('delivery'));
  await pool.query('create table delivery.effects (id bigint generated always as identity primary key, message_id uuid not null)');
});

const startRelayProcess = (config: Record<string, unknown>) => children.start(path.join(import.meta.dirname, 'fixtures', 'killableRelay.ts'), config);

for (const kind of ['postgres', 'nats'] as const) {
  describe(`relay SIGKILLed between publish and mark (${kind})`, { skip: kind === 'nats' ? nats.skip : false, timeout: 300_000 }, () => {
    test('the next relay publishes the row again; the broker dedupes it and the side effect happens once', async () => {
      const subjects = [`${prefix}.>`];
      const transport = kind === 'postgres' ? createPgTransport({ pool, pollIntervalMs: 100 }) : await createNatsTransport({ servers: testEnv.natsUrl, pool, stream, subjects });
      database.defer(() => transport.close());
      const subject = `${prefix}.${token()}.Killed`;
      const subscription = `${token()}-kill`;
      await transport.ensureSubscription({ subscription, pattern: subject });

      const id = await produce(pool, subject, 'kill-agg', 1);
      const a = startRelayProcess({ kind, dbUrl: database.db.url, natsUrl: testEnv.natsUrl, stream, subjects });
      const printed = await a.line(new RegExp(`PUBLISHED \\S*${id}`));
      assert.ok(printed.includes(id));
      a.child.kill('SIGKILL');
      await a.exited;
      assert.equal((await outboxRows(pool)).find((r) => r.message_id === id)?.published, false, 'killed before the mark');

      // The second relay (this process) takes the lock the dead session released and republishes.
      const events: RelayEvent[] = [];
      const c = new AbortController();
      const relayDone = createRelay({ pool, service: 'delivery', transport, lockPollMs: 50, onProgress: (e) => events.push(e) }).run(c.signal);
      const delivered: Message[] = [];
      let duplicates = 0;
      const w = new AbortController();
      const worker = transport.subscribe(
        { subscription, signal: w.signal },
        inboxHandler({
          subscription,
          schema: 'delivery',
          transaction: (_m, fn) => unitOfWork(pool, { service: 'delivery', actor: { kind: 'system', id: 'consumer' } }, fn),
          handle: async (tx, m) => {
            await tx.query('insert into delivery.effects (message_id) values ($1)', [m.id]);
            delivered.push(m);
          },
          onDuplicate: () => duplicates++,
        }),
      );
      await waitFor('the second relay republished and marked the row', async () => (await outboxRows(pool)).find((r) => r.message_id === id)?.published === true, DELIVERY_MS);
      assert.ok(events.some((e) => e.kind === 'published' && e.messages.some((m) => m.id === id)), 'published a second time');
      await waitFor('the consumer handled it', () => delivered.length >= 1, DELIVERY_MS);
      // Let any duplicate delivery arrive: publish one more message behind it and wait for that one.
      const marker = await produce(pool, subject, 'kill-agg', 2);
      await waitFor('the marker arrived', () => delivered.some((m) => m.id === marker), DELIVERY_MS);
      c.abort();
      await relayDone;
      w.abort();
      await worker.done;

      const effects = await pool.query('select count(*)::int as n from delivery.effects where message_id = $1', [id]);
      assert.equal(effects.rows[0].n, 1, 'the side effect happened once');
      assert.equal(delivered.filter((m) => m.id === id).length, 1);
      assert.equal(duplicates, 0, 'the broker deduped the republished id: the consumer never even saw it twice');
    });
  });
}
