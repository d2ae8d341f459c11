import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { HorizonStalledError } from '../../../src/platform/projections/index.ts';
import { waitForHorizon } from '../../../src/platform/projections/waitForHorizon.ts';
import { useTestDatabase } from '../../support/db.ts';

const database = useTestDatabase();
let pool: pg.Pool;

before(async () => {
  await database.ready;
  pool = database.pool({ max: 4 });
});

test('a stalled horizon names the transaction with the oldest id, not the one that began first', async () => {
  const [first, holder, waiter] = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
  try {
    const pid = async (c: pg.PoolClient) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    // `first` begins first but takes its transaction id after `holder`, whose id then holds the horizon.
    await first.query('begin');
    await holder.query('begin');
    await holder.query('select pg_current_xact_id()');
    await first.query('select pg_current_xact_id()');
    const fence = BigInt((await waiter.query<{ next: string }>('select (pg_current_xact_id()::text::bigint + 1)::text as next')).rows[0]!.next);
    let named: number | undefined;
    await assert.rejects(waitForHorizon(waiter, fence, { timeoutMs: 50 }), (e: unknown) => {
      assert.ok(e instanceof HorizonStalledError);
      named = (e.details as { oldest: { pid: number } | null }).oldest?.pid;
      return true;
    });
    // Another test's older transaction may hold the cluster's horizon too; `first`'s never does.
    assert.notEqual(named, await pid(first), 'the transaction that began first is not the one holding the horizon');
    assert.ok(named !== undefined);
  } finally {
    await Promise.all([first.query('rollback'), holder.query('rollback')]);
    for (const c of [first, holder, waiter]) c.release();
  }
});
