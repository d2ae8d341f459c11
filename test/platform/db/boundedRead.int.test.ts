import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { boundedRead, isLocalTimeout } from '../../../src/platform/db/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually, within } from '../../support/eventually.ts';

const database = useTestDatabase();

test('a bounded read stuck behind a lock fails with the lock timeout before the caller gives up, and gives its connection back', async () => {
  await database.ready;
  const pool = database.pool(1);
  // The pool's one connection opened first: the bound is the read's, and a connection opened under a
  // loaded CI machine took most of it (the read then failed as "no answer within 1000 ms").
  await pool.query('select 1');
  const locker = new pg.Client({ connectionString: database.db.url });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table brigade_bus.dead_letters in access exclusive mode');
    const failure = await within(
      boundedRead(pool, 1000, (db) => db.query('select count(*) from brigade_bus.dead_letters')).then(
        () => assert.fail('read under the lock'),
        (error: unknown) => error,
      ),
      5000,
      'the read to end',
    );
    // Which bound the caller hears first is a race of 200 ms (DATABASE_BOUND_MARGIN_MS) that a loaded CI
    // machine lost twice: what the database bound is for is that the read ends there, and its
    // connection comes back, while the lock is still held (without it the read waits for the lock).
    assert.ok(isLocalTimeout(failure) || /no answer within 1000 ms/.test(String(failure)), String(failure));
    await eventually('the connection to come back while the lock is held', async () => pool.idleCount, (n) => n === 1, 5000);
    // The one connection came back, rolled back: the next read (another table) runs on it.
    assert.equal((await boundedRead(pool, 1000, (db) => db.query<{ n: number }>('select 1 as n'))).rows[0]?.n, 1);
    assert.equal(pool.totalCount, 1);
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.end();
  }
});

test('a bounded read is read-only, and one whose connection came free only after its time ran nothing', async () => {
  await database.ready;
  const pool = database.pool(1);
  await pool.query('select 1');
  await assert.rejects(
    boundedRead(pool, 1000, (db) => db.query('create table public.bounded_read_probe (a int)')),
    (e: unknown) => (e as { code?: string }).code === '25006',
  );
  const held = await pool.connect();
  let ran = false;
  const late = boundedRead(pool, 300, async (db) => {
    ran = true;
    return db.query('select 1');
  });
  await assert.rejects(within(late, 5000, 'the caller to give up'), /no answer within 300 ms/);
  held.release();
  await eventually('the late connection to come back unused', async () => pool.idleCount, (n) => n === 1, 5000);
  assert.equal(ran, false);
});
