/**
 * The outbox row of an event append, two ways (decision 0058), on one connection with
 * `synchronous_commit = off`, so that what differs is the work per append and not the disk:
 *
 *   statement   the outbox INSERT as a second statement built in Node (`onAppend` + `outboxInsert`,
 *               as the ordering store did before)
 *   in append   the outbox rows written by the append's own statement (`appendSql: outboxAppendSql`)
 *
 * Each round appends BENCH_APPENDS orders' OrderPlaced (default 3,000) each way, in turns; prints µs per
 * append (wall) and this process's CPU per append.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/event-store/outboxInAppend.ts
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { dropDatabase, freshDatabase } from '../database.ts';
import { commitStatements, type CommitStatementsFn } from '../../src/platform/db/index.ts';
import { createEventStore, type EventStore } from '../../src/platform/events/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { outboxAppendSql, outboxInsert } from '../../src/platform/outbox/index.ts';

const APPENDS = Number(process.env.BENCH_APPENDS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const DB = 'brigade_bench_outbox_in_append';

const url = await freshDatabase(DB);
await runMigrations({ url, sets: migrationSets() });
const pool = new pg.Pool({ connectionString: url, max: 1, options: '-c synchronous_commit=off' });
// As while a relay runs: producers do not notify (decision 0036).
await pool.query('update ordering.outbox_state set sleeping = false');

const stores: Record<string, EventStore> = {
  statement: createEventStore({
    schema: 'ordering',
    onAppend: (context, events) => [
      outboxInsert(
        'ordering',
        context.tenantId,
        events.map((e) => ({
          id: e.metadata.messageId,
          subject: `ordering.order.${e.type}`,
          key: e.streamId,
          headers: { correlation: e.metadata.correlationId, causation: e.metadata.causationId ?? '', tenant: e.metadata.tenantId, traceparent: '' },
          payload: e.data,
        })),
      ).statement,
    ],
  }),
  'in append': createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') }),
};
const tenantId = randomUUID();
// As staff: a customer appends only to the streams of orders the order index names them in (ordering
// migration 0041), and these orders are in none.
const context = { service: 'ordering', tenantId, actor: { kind: 'staff' as const, id: tenantId } };
const commit: CommitStatementsFn = (ctx, statements) => commitStatements(pool, ctx, statements);

async function measure(store: EventStore, n: number) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const orderId = randomUUID();
    const data = { orderId, restaurantId: tenantId, lines: [{ itemId: randomUUID(), version: 3, name: 'Margherita', unitPrice: 950, quantity: 2 }], total: 1900 };
    await store.appendAndCommit(commit, context, `order-${orderId}`, [{ type: 'OrderPlaced', data }], 0);
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: ((performance.now() - t0) * 1000) / n, client: (cpu.user + cpu.system) / n };
}

console.log(`outbox row of an append, one connection, synchronous_commit off, ${APPENDS} appends per way and round`);
for (const store of Object.values(stores)) await measure(store, 300); // warm-up: statements prepared
for (let round = 1; round <= ROUNDS; round++) {
  const line = [];
  for (const [name, store] of Object.entries(stores)) {
    const r = await measure(store, APPENDS);
    line.push(`${name}: ${r.wall.toFixed(0)} µs/append (this process ${r.client.toFixed(0)} µs)`);
  }
  console.log(`round ${round}  ${line.join('   ')}`);
}
await pool.end();
await dropDatabase(DB);
