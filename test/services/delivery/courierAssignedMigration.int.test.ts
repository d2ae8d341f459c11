import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { migrationSets } from '../../../src/composition/services.ts';
import { runMigrations, type MigrationSet } from '../../../src/platform/migrations/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';

// Delivery migrations 0008 and 0009 (decision 0042) on a dispatch that is running: a transaction holds
// the tables while they apply. Neither may queue the dispatch's queries behind a lock it waits for.

const folders: string[] = [];
after(() => Promise.all(folders.map((dir) => fs.rm(dir, { recursive: true, force: true }))));

/** The platform's and delivery's migration sets, delivery's cut after file `last` (or whole). */
async function deliverySets(last?: number): Promise<MigrationSet[]> {
  const sets = migrationSets().filter((s) => s.name === 'platform' || s.name === 'delivery');
  if (last === undefined) return sets;
  const delivery = sets.find((s) => s.name === 'delivery')!;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-delivery-migrations-'));
  folders.push(dir);
  for (const file of await fs.readdir(delivery.dir)) {
    if (Number(file.slice(0, 4)) <= last) await fs.copyFile(path.join(delivery.dir, file), path.join(dir, file));
  }
  return sets.map((s) => (s === delivery ? { name: 'delivery', dir } : s));
}

describe('delivery migrations 0008-0009 on a live dispatch', () => {
  const database = useTestDatabase({ empty: true });
  let pool: pg.Pool;
  const migrate = async (last?: number) => runMigrations({ url: database.db.url, sets: await deliverySets(last) });
  /** A session of the test holding a transaction open on the dispatch queue. */
  const holdQueue = async (statement: string) => {
    const holder = await pool.connect();
    await holder.query('begin');
    await holder.query(statement, [randomUUID(), randomUUID()]);
    return async () => {
      await holder.query('commit');
      holder.release();
    };
  };
  const addOrder = (session: pg.Pool | pg.PoolClient) =>
    session.query(`insert into delivery.dispatch_queue (tenant_id, order_id, city) values ($1, $2, 'Porto')`, [randomUUID(), randomUUID()]);

  before(async () => {
    pool = database.pool(4);
    await migrate(7);
    await addOrder(pool);
  });

  test('0008 gives up after its lock_timeout while a transaction holds the queue, instead of waiting with every query queued behind it; it applies once that transaction ended', async () => {
    const end = await holdQueue(`select 1 from delivery.dispatch_queue where tenant_id = $1 and order_id = $2`);
    try {
      const failed = await within(
        migrate(8).then(
          () => null,
          (error: unknown) => error as Error & { cause?: { code?: string } },
        ),
        60_000,
        'migration 0008 to give up on the lock (without a lock_timeout it waits as long as the transaction runs)',
      );
      assert.equal(failed?.cause?.code, '55P03', `expected a lock timeout, got ${String(failed)}`);
    } finally {
      await end();
    }
    const applied = await migrate(8);
    assert.deepEqual(applied.applied, ['delivery/0008_courier_assigned.sql']);
  });

  test('0009 validates the checks and builds the index without blocking writers, while it waits for a transaction that wrote before it', async () => {
    const end = await holdQueue(`insert into delivery.dispatch_queue (tenant_id, order_id, city) values ($1, $2, 'Porto')`);
    let migrated: Promise<unknown>;
    try {
      let settled = false;
      migrated = migrate().finally(() => (settled = true));
      migrated.catch(() => undefined);
      // The build waits for the open writer (a CREATE INDEX without CONCURRENTLY would wait for its lock the same way).
      for (;;) {
        assert.equal(settled, false, 'the migration ended without waiting for the open writer');
        const waiting = await pool.query(`select 1 from pg_stat_activity where application_name = 'brigade-migrate' and datname = current_database() and wait_event_type = 'Lock'`);
        if ((waiting.rowCount ?? 0) > 0) break;
        await sleep(10);
      }
      // A new write: it must go through, not wait behind the build.
      const writer = await pool.connect();
      try {
        const pid = (await writer.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
        let written = false;
        const write = addOrder(writer).finally(() => (written = true));
        write.catch(() => undefined); // awaited below; a failed assertion must not leave it unhandled
        while (!written) {
          const blocked = await pool.query(`select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'`, [pid]);
          assert.equal(blocked.rowCount, 0, 'a write to the queue waits for the migration');
          await sleep(10);
        }
        await write;
      } finally {
        writer.release();
      }
    } finally {
      await end();
    }
    await migrated;
    const checks = await pool.query(
      `select conname, convalidated from pg_constraint
        where conname in ('dispatch_queue_city_unless_ended', 'assignments_release_reason_check', 'courier_availability_released_status_check') order by conname`,
    );
    assert.deepEqual(checks.rows, [
      { conname: 'assignments_release_reason_check', convalidated: true },
      { conname: 'courier_availability_released_status_check', convalidated: true },
      { conname: 'dispatch_queue_city_unless_ended', convalidated: true },
    ]);
    const index = await pool.query(`select indisvalid from pg_index where indexrelid = 'delivery.dispatch_queue_courier_assigned'::regclass`);
    assert.deepEqual(index.rows, [{ indisvalid: true }]);
  });
});
