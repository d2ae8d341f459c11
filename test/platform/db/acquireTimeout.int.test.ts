import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { commitStatements, createDatabases, unitOfWork } from '../../../src/platform/db/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';
import { startTestPlatform } from '../../support/platform.ts';

// A pool whose every connection is held (by background workers' leader locks and LISTENs, or by a
// burst) makes a caller wait for a connection for at most the acquire timeout, then fail with
// DATABASE_BUSY (503, retry) having run nothing: it does not wait for ever. Each test holds the
// connections until the caller has answered, so a caller that waited without bound could not answer
// before the test gives up on it. The timeout also bounds opening a new connection (the ones the test
// holds, too): 2 s, which a loaded machine's connection attempts stay well within.

const database = useTestDatabase();

/** Takes every connection of `pool` (`count` of them); the returned function gives them back. */
const holdAll = async (pool: pg.Pool, count: number): Promise<() => void> => {
  const held = await Promise.all(Array.from({ length: count }, () => pool.connect()));
  return () => held.forEach((client) => client.release());
};

test('a unit of work on a pool whose every connection is held fails with DATABASE_BUSY after the acquire timeout, and runs once one is free', async () => {
  await database.ready;
  const databases = createDatabases({ url: database.db.url, poolSize: 1, acquireTimeoutMs: 2000 });
  database.defer(() => databases.close());
  const pool = databases.poolFor('platform');
  const release = await holdAll(pool, 1);
  try {
    const busy = { code: 'DATABASE_BUSY', status: 503, details: { retryAfterSeconds: 1 } };
    await within(assert.rejects(unitOfWork(pool, { service: 'platform' }, (tx) => tx.query('select 1')), busy), 10_000, 'the unit of work to give up');
    // The group-committed path (implicit transactions) fails alike.
    await within(assert.rejects(commitStatements(pool, { service: 'platform' }, [{ text: 'select 1' }]), busy), 10_000, 'the group commit to give up');
  } finally {
    release();
  }
  assert.equal((await unitOfWork(pool, { service: 'platform' }, (tx) => tx.query<{ n: number }>('select 1 as n'))).rows[0]?.n, 1);
});

test('a request while every connection of the main pool is held answers 503 DATABASE_BUSY with Retry-After and what to do, instead of hanging', async () => {
  const t = await startTestPlatform({ DATABASE_POOL_SIZE: '2', DATABASE_ACQUIRE_TIMEOUT_MS: '2000' });
  try {
    const release = await holdAll(t.platform.databases.poolFor('platform'), 2);
    try {
      const res = await within(t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' }), 10_000, 'the request to answer');
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json();
      assert.equal(problem.code, 'DATABASE_BUSY');
      assert.match(problem.detail, /retry in a moment/);
      assert.match(problem.detail, /DATABASE_POOL_SIZE/);
    } finally {
      release();
    }
    assert.equal((await t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' })).statusCode, 200, 'answers again once a connection is free');
  } finally {
    await t.close();
  }
});
