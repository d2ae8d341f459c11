import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { HORIZON_SQL, nextTransactionId, unitOfWork, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createEventStore } from '../../../src/platform/events/index.ts';
import { claimOutboxBatch } from '../../../src/platform/outbox/claimOutboxBatch.ts';
import { waitForHorizon } from '../../../src/platform/projections/waitForHorizon.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';

/**
 * Decision 0011, "Later": the read bound is held by this database's running transactions only. A
 * write transaction open in another database of the server (a parallel test file's, another
 * service's batch job) used to hold every log read here until it ended.
 */
describe('the read bound of the logs: only this database’s transactions hold it', () => {
  const here = useTestDatabase();
  const elsewhere = useTestDatabase();
  let pool: pg.Pool;
  let otherPool: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });
  const tenant = randomUUID();
  const asStaff: UnitOfWorkContext = { service: 'ordering', tenantId: tenant, actor: { kind: 'staff', id: randomUUID() } };
  const system: UnitOfWorkContext = { service: 'ordering', actor: { kind: 'system', id: 'horizon-test' } };

  before(() => {
    pool = here.pool(4);
    otherPool = elsewhere.pool(2);
  });

  /** A transaction with an id, held open on `from` until `end()` rolls it back (again: nothing). */
  const holdWriteTransaction = async (from: pg.Pool): Promise<{ xid: bigint; end: () => Promise<void> }> => {
    const client = await from.connect();
    await client.query('begin');
    const { rows } = await client.query<{ id: string }>('select pg_current_xact_id()::text as id');
    let ended = false;
    return {
      xid: BigInt(rows[0]!.id),
      end: async () => {
        if (ended) return;
        ended = true;
        await client.query('rollback');
        client.release();
      },
    };
  };

  /** Appends one event to a new stream and commits; returns its stream id. */
  const appendOne = async (): Promise<string> => {
    const stream = `s-${randomUUID()}`;
    await unitOfWork(pool, asStaff, (tx) => store.append(tx, stream, [{ type: 'Placed', data: {} }], 0));
    return stream;
  };

  /** The stream ids of every event `readAll` returns from the start of the log. */
  const readableStreams = async (): Promise<string[]> =>
    unitOfWork(pool, { ...system, readOnly: true }, async (tx) => (await store.readAll(tx, { limit: 10_000 })).events.map((e) => e.streamId));

  test('a write transaction open in another database holds neither readAll, nor the outbox claim, nor waitForHorizon', async () => {
    const other = await holdWriteTransaction(otherPool);
    try {
      const stream = await appendOne();
      // Written after the other database's transaction took its id, so below no cluster-wide xmin.
      const [row] = (
        await pool.query<{ transaction_id: string }>(
          `insert into ordering.outbox (message_id, subject, aggregate_key, headers, payload)
           values (gen_random_uuid(), 'ordering.order.Placed', $1, '{}', '{}') returning transaction_id::text`,
          [stream],
        )
      ).rows;
      assert.ok(BigInt(row!.transaction_id) > other.xid);
      const cluster = await pool.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin');
      assert.ok(BigInt(cluster.rows[0]!.xmin) <= other.xid, 'the cluster-wide xmin is held by the other database (the hazard)');

      // Polled, briefly: an id of another database that ended between a read's snapshot and its look
      // at pg_stat_activity is kept, holding that one read back (never for long). With the
      // cluster-wide bound the other transaction, open throughout, held every read.
      await eventually('readAll to return the event committed after the other database’s transaction began', readableStreams, (streams) => streams.includes(stream), 10_000);

      const relay = await pool.connect();
      try {
        const claim = () => claimOutboxBatch(relay, 'ordering.outbox', { transactionId: '0', id: '0' }, 100);
        const claimed = await eventually('the relay to claim the row', claim, (rows) => rows.length > 0, 10_000);
        assert.deepEqual(claimed.map((r) => r.message.key), [stream]);
        const fence = await nextTransactionId(relay);
        await waitForHorizon(relay, fence, { timeoutMs: 5_000 });
      } finally {
        relay.release();
      }
    } finally {
      await other.end();
    }
  });

  test('a write transaction open in this database still holds the bound (the late-commit guarantee)', async () => {
    const open = await holdWriteTransaction(pool);
    try {
      const stream = await appendOne();
      assert.ok(!(await readableStreams()).includes(stream), 'an event committed after an open transaction of this database is not read past it');
      const bound = await pool.query<{ h: string }>(`select ${HORIZON_SQL}::text as h`);
      assert.ok(BigInt(bound.rows[0]!.h) <= open.xid, 'the bound is at or below the open transaction’s id');
      await open.end();
      await eventually('the event to be read once the open transaction ends', readableStreams, (streams) => streams.includes(stream), 10_000);
    } finally {
      await open.end();
    }
  });
});
