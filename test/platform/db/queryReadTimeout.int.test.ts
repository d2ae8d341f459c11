import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { commitStatements, unitOfWork } from '../../../src/platform/db/index.ts';
import { adminQuery, useTestDatabase } from '../../support/db.ts';

// A statement that hits pg's client-side query_timeout (the replica's pools set one) is still running
// in its backend: a ROLLBACK sent after it waits behind it, so the caller heard of the timeout only
// once the ROLLBACK had timed out too, twice the timeout (and a pool without the timeout would wait for
// the statement to end). The connection is destroyed instead, with no ROLLBACK. The tests assert what
// was sent and which backend serves next, never how long anything took.

const database = useTestDatabase();

/** A pool of one connection with a 500 ms read timeout, and every statement text its clients were asked to run (a batch counts as `batch`). */
const timingOutPool = () => {
  const pool = database.pool({ max: 1, query_timeout: 500 });
  const sent: string[] = [];
  const backends: number[] = [];
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    // The destroyed client still hears its backend end (endBackends), as createDatabases' pools do.
    client.on('error', () => undefined);
    backends.push((client as pg.PoolClient & { processID: number }).processID);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((config: unknown, ...rest: unknown[]) => {
      sent.push(typeof config === 'string' ? config : typeof (config as { text?: unknown }).text === 'string' ? (config as { text: string }).text : 'batch');
      return query(config, ...rest);
    }) as typeof client.query;
  });
  return { pool, sent, backends };
};

/** Ends the backends that still run the timed-out sleeps (their clients are gone), so the database can be dropped. */
const endBackends = (pids: readonly number[]) => adminQuery('select pg_terminate_backend(pid) from pg_stat_activity where pid = any($1::int[])', [pids]);

for (const [name, run] of [
  ['unitOfWork', (pool: pg.Pool) => unitOfWork(pool, { service: 'platform' }, (tx) => tx.query('select pg_sleep(60)'))],
  ['commitStatements (an explicit transaction)', (pool: pg.Pool) => commitStatements(pool, { service: 'platform', readOnly: true }, [{ text: 'select pg_sleep(60)' }])],
] as const) {
  test(`${name}: a statement past the pool's query_timeout destroys its connection without sending ROLLBACK behind the statement still running`, async () => {
    await database.ready;
    const { pool, sent, backends } = timingOutPool();
    try {
      await unitOfWork(pool, { service: 'platform' }, (tx) => tx.query('select 1'));
      assert.equal(backends.length, 1);
      sent.length = 0;
      await assert.rejects(run(pool), /Query read timeout/);
      assert.deepEqual(
        sent.filter((text) => /rollback/i.test(text)),
        [],
        `statements sent: ${JSON.stringify(sent)}`,
      );
      assert.equal(pool.totalCount, 0, 'the connection was destroyed, not pooled');
      // The old backend still runs the sleep (nothing queued behind it); the next unit of work gets a new one.
      const old = await adminQuery('select query from pg_stat_activity where pid = $1', [backends[0]]);
      assert.deepEqual(old.rows, [{ query: 'select pg_sleep(60)' }]);
      const next = await unitOfWork(pool, { service: 'platform' }, (tx) => tx.query<{ pid: number }>('select pg_backend_pid() as pid'));
      assert.equal(backends.length, 2);
      assert.equal(next.rows[0]?.pid, backends[1]);
    } finally {
      await endBackends(backends);
    }
  });
}
