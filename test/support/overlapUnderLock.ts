import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { eventually, within } from './eventually.ts';

/**
 * Locks `table` in access exclusive mode (as a migration's ALTER, a VACUUM FULL or pg_repack holds it)
 * in an open transaction of the database at `url`, makes `count` calls of `call` at once, and checks
 * that they wait on ONE read of the table (one connection of the pool, not one each), that every one
 * answers while the lock is still held (`boundMs` + 3 s bounds the wait: a hang fails with its name; it
 * is not a measurement), and that the read then ends in the database too (no session waits on the lock
 * any more, the lock still held). Resolves with their answers once the lock is released.
 *
 * @example
 * const texts = await overlapUnderLock(url, 'brigade_bus.dead_letters', 8, () => registry.metrics(), 4000);
 */
export async function overlapUnderLock<T>(url: string, table: string, count: number, call: () => Promise<T>, boundMs: number): Promise<T[]> {
  const locker = new pg.Client({ connectionString: url });
  const watcher = new pg.Client({ connectionString: url });
  await locker.connect();
  await watcher.connect();
  const name = table.split('.').at(-1)!;
  // The reads of the table waiting on the lock: each holds a connection of its pool.
  const waiting = async () =>
    (
      await watcher.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid() and query ilike $1`,
        [`%${name}%`],
      )
    ).rows[0]!.n;
  try {
    await locker.query('begin');
    await locker.query(`lock table ${table} in access exclusive mode`);
    const calls = Array.from({ length: count }, call);
    await eventually(`a read of ${table} waiting on the lock`, waiting, (n) => n > 0, 5000);
    await sleep(300);
    assert.equal(await waiting(), 1, `${count} at once, one read of ${table} (not one connection each)`);
    const answers = await within(Promise.all(calls), boundMs + 3000, `the calls to answer while ${table} stays locked`);
    await eventually(`the read to end in the database, ${table} still locked`, waiting, (n) => n === 0, 10_000);
    return answers;
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.end();
    await watcher.end();
  }
}
