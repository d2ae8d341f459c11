import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import {
  createNatsTransport,
  createPgTransport,
  ensureBusSchema,
  inboxHandler,
  inboxSchemaSql,
  type Message,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { consumerDeliveries, deleteTestStream } from '../../support/jetstream.ts';
import { fixtureProcesses } from '../../support/fixtureProcesses.ts';
import { testEnv } from '../../support/env.ts';
import { requireService } from '../../support/services.ts';
import { message, token, waitFor } from './support.ts';

const nats = await requireService('nats');
const stream = `BRIGADE_TEST_${token().toUpperCase()}`;
const prefix = token();
const database = useTestDatabase();
let pool: pg.Pool;
const children = fixtureProcesses();

before(async () => {
  await database.ready;
  pool = database.pool(10);
  // Clean-ups run last-first: each test's transport closes, the workers are killed, the stream is deleted.
  if (!nats.skip) database.defer(() => deleteTestStream(stream));
  database.defer(() => children.killAll());
  await ensureBusSchema(pool);
  await pool.query(inboxSchemaSql('delivery'));
  await pool.query('create table delivery.effects (id bigint generated always as identity primary key, message_id uuid not null, worker text not null)');
});

const startWorker = (config: Record<string, unknown>) => children.start(path.join(import.meta.dirname, 'fixtures', 'killableWorker.ts'), config);

for (const kind of ['postgres', 'nats'] as const) {
  describe(`worker killed mid-handle (${kind})`, { skip: kind === 'nats' ? nats.skip : false }, () => {
    const makeTransport = async (): Promise<Transport> => {
      const t = kind === 'postgres' ? createPgTransport({ pool, pollIntervalMs: 100 }) : await createNatsTransport({ servers: testEnv.natsUrl, pool, stream, subjects: [`${prefix}.>`] });
      database.defer(() => t.close());
      return t;
    };

    for (const mode of ['mid-handle', 'after-commit'] as const) {
      test(`killed ${mode === 'mid-handle' ? 'inside the open transaction' : 'after COMMIT, before the ack'}: the other worker makes the effect happen exactly once`, async () => {
        const transport = await makeTransport();
        const sub = `${token()}-kill`;
        const subject = `${prefix}.${sub.replaceAll('-', '_')}.task`;
        // A short lease, so the killed worker's message is taken over soon; long enough that a loaded machine
        // stalling A for a second or two does not let it run out between A's heartbeats (every third of it).
        const leaseMs = 3000;
        await transport.ensureSubscription({ subscription: sub, pattern: subject, leaseMs });
        const a = startWorker({ kind, dbUrl: database.db.url, natsUrl: testEnv.natsUrl, stream, subjects: [`${prefix}.>`], subscription: sub, mode });
        await a.line(/READY/);
        const m = message(subject, { task: 1 });
        await transport.publish([m]);
        await a.line(mode === 'mid-handle' ? /IN_HANDLER \S+/ : /COMMITTED \S+/);
        const heldSince = Date.now();

        // Worker B: in this process, same subscription, same inbox; started while A still holds the message.
        const handledByB: Message[] = [];
        let skippedByB = 0;
        const c = new AbortController();
        const w = transport.subscribe(
          { subscription: sub, signal: c.signal },
          inboxHandler({
            subscription: sub,
            schema: 'delivery',
            transaction: (_m, fn) => unitOfWork(pool, { service: 'delivery', actor: { kind: 'system', id: 'worker-b' } }, fn),
            handle: async (tx, msg) => {
              await tx.query('insert into delivery.effects (message_id, worker) values ($1, $2)', [msg.id, 'b']);
              handledByB.push(msg);
            },
            onDuplicate: () => skippedByB++,
          }),
        );

        try {
          // A is alive and heartbeats its lease: B, polling the same subscription, does not get the
          // message even after A's first lease (3 s) would have run out. Proving a non-delivery needs
          // that much time to pass; on Postgres the delivery row also shows A's lease renewed, not taken.
          if (kind === 'postgres') {
            const delivery = () =>
              pool.query<{ attempt: number; renewed: boolean; past: boolean }>(
                `select attempt, run_at > $2::timestamptz + make_interval(secs => $3::int / 1000.0) as renewed,
                        now() > $2::timestamptz + make_interval(secs => ($3::int + 300) / 1000.0) as past
                   from brigade_bus.deliveries where subscription = $1`,
                [sub, new Date(heldSince).toISOString(), leaseMs],
              );
            // A missing row (a takeover acked it) ends the wait too, and fails below.
            await waitFor('the time past A’s first lease', async () => (await delivery()).rows[0]?.past !== false);
            const row = (await delivery()).rows[0];
            assert.deepEqual([row?.attempt, row?.renewed], [1, true], 'A renewed its lease and no one took the delivery over from it');
          } else {
            // One and a half leases: JetStream would have redelivered to B's waiting pull by then.
            await waitFor('the time past A’s first lease', () => Date.now() > heldSince + 1.5 * leaseMs);
            assert.deepEqual(await consumerDeliveries(stream, sub), { delivered: 1, redelivered: 0, ackPending: 1 }, 'delivered once, to the live worker, and not again');
          }
          assert.deepEqual([handledByB.length, skippedByB], [0, 0], 'B got nothing while A lived');

          a.child.kill('SIGKILL');
          await a.exited;
          await waitFor('B received the message', () => handledByB.length + skippedByB >= 1, 60_000);
        } finally {
          a.child.kill('SIGKILL');
          c.abort();
          await w.done;
        }
        const effects = await pool.query('select worker from delivery.effects where message_id = $1', [m.id]);
        const inbox = await pool.query('select count(*)::int as n from delivery.inbox where subscription = $1 and message_id = $2', [sub, m.id]);
        assert.equal(effects.rowCount, 1, 'exactly one effect');
        assert.equal(inbox.rows[0].n, 1);
        if (mode === 'mid-handle') {
          // The killed transaction rolled back; B handled the message, as a redelivery.
          assert.deepEqual(effects.rows, [{ worker: 'b' }]);
          assert.equal(handledByB.length, 1);
          // A redelivery. On PostgreSQL attempt 2 (A's run was counted as it started; claims count
          // nothing, decision 0015, "Fixed later (forty-fourth session…)"). JetStream counts a run before it starts only on a
          // redelivery (the first delivery writes nothing, and the server's delivery count also counts
          // deliveries no handler ran: decision 0016, "Fixed later: attempts that ran…"), so A's run,
          // on the first delivery, left no count: B's is attempt 1.
          if (kind === 'postgres') assert.equal(handledByB[0]!.attempt, 2);
          else assert.equal(handledByB[0]!.attempt, 1);
        } else {
          // The killed worker committed; B got the redelivery and the inbox skipped it.
          assert.deepEqual(effects.rows, [{ worker: 'killed' }]);
          assert.equal(handledByB.length, 0);
          assert.equal(skippedByB, 1);
        }
      });
    }
  });
}
