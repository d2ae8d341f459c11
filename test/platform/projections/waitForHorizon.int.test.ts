import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { HorizonStalledError, type HorizonWait } from '../../../src/platform/projections/index.ts';
import { waitForHorizon } from '../../../src/platform/projections/waitForHorizon.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';

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

test('a wait reports, every reportEveryMs, how long it has waited, the transaction it waits for (backend, age, state, query) and when it gives up', async () => {
  const [holder, waiter] = await Promise.all([pool.connect(), pool.connect()]);
  let waiting: Promise<void> | undefined;
  try {
    const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await holder.query('begin');
    await holder.query('select pg_current_xact_id() /* the holder */');
    const fence = BigInt((await waiter.query<{ next: string }>('select (pg_current_xact_id()::text::bigint + 1)::text as next')).rows[0]!.next);
    const reports: HorizonWait[] = [];
    const at: number[] = [];
    waiting = waitForHorizon(waiter, fence, {
      timeoutMs: 60_000,
      maxStepMs: 20,
      reportEveryMs: 150,
      onWait: (wait) => {
        reports.push(wait);
        at.push(performance.now());
      },
    });
    await eventually('three reports', async () => reports.length, (n) => n >= 3, 20_000);
    await holder.query('rollback');
    await waiting;
    assert.equal(reports[0]!.waitedSeconds < 0.15, true, `the first report comes at once (${reports[0]!.waitedSeconds} s)`);
    for (let i = 1; i < reports.length; i++) {
      assert.ok(at[i]! - at[i - 1]! >= 140, `reports ${reportEveryMs(at)} ms apart`);
      assert.ok(reports[i]!.waitedSeconds > reports[i - 1]!.waitedSeconds, 'each report says how long the wait has lasted');
    }
    for (const report of reports) {
      assert.equal(report.timeoutSeconds, 60, 'each report says when the wait gives up');
      assert.ok(report.holder !== null, 'each report names the transaction it waits for');
      assert.ok('pid' in report.holder, 'no prepared transactions on this server');
      if (report.holder.pid !== pid) {
        // Another test file's older transaction may hold the cluster's horizon too; never one of this database.
        const other = await pool.query<{ datname: string | null }>('select datname from pg_stat_activity where pid = $1', [report.holder.pid]);
        assert.notEqual(other.rows[0]?.datname, database.db.name, `backend ${report.holder.pid} is not the holder (${pid})`);
        continue;
      }
      assert.equal(report.holder.state, 'idle in transaction');
      assert.match(report.holder.query ?? '', /the holder/);
    }
    const named = reports.filter((r) => r.holder !== null && 'pid' in r.holder && r.holder.pid === pid);
    // How long the transaction has been open grows from report to report (by about reportEveryMs between
    // this test's own, but other files' transactions may take the reports between: no amount asserted).
    for (let i = 1; i < named.length; i++) assert.ok(named[i]!.holder!.seconds > named[i - 1]!.holder!.seconds, 'each report says how long the transaction has been open');
  } finally {
    await holder.query('rollback');
    await waiting?.catch(() => undefined);
    for (const c of [holder, waiter]) c.release();
  }
});

/** The gaps between report times, for a failure message. */
function reportEveryMs(at: readonly number[]): string {
  return at.slice(1).map((t, i) => (t - at[i]!).toFixed(0)).join(', ');
}
