import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { NO_TRANSACTION_MARKER, splitStatements } from '../../../src/platform/migrations/index.ts';
import { repoRoot } from '../../support/cli.ts';
import { useTestDatabase } from '../../support/db.ts';

/** What one transaction of a migration did to `payments.saga_instances`, seen from inside it and from a writer outside. */
interface Step {
  readonly sql: string;
  /** It read the table's rows (a scan, as a CHECK's validation does). */
  readonly scanned: boolean;
  /** A writer could not take its lock while the transaction was open (NOWAIT). */
  readonly blockedWriters: boolean;
  readonly lockTimeout: string;
}

/**
 * Applies a migration file as the migrator does (one transaction, or each statement its own for a
 * `-- brigade:no-transaction` file) and, before each transaction commits, looks at what it holds.
 */
async function applyWatched(pool: pg.Pool, sql: string): Promise<Step[]> {
  const transactions = sql.split('\n', 1)[0]?.trim() === NO_TRANSACTION_MARKER ? splitStatements(sql) : [sql];
  const migrator = await pool.connect();
  const writer = await pool.connect();
  try {
    const steps: Step[] = [];
    // The backend's scans of the table not yet reported to the statistics (earlier transactions' too: the before-and-after difference is this one's).
    const scans = async () =>
      (await migrator.query<{ n: number }>(`select coalesce((select seq_scan from pg_stat_xact_user_tables where relid = 'payments.saga_instances'::regclass), 0)::int as n`)).rows[0]!.n;
    for (const text of transactions) {
      await migrator.query('begin');
      const before = await scans();
      await migrator.query(text);
      const scanned = (await scans()) > before;
      const lockTimeout = (await migrator.query<{ t: string }>(`select current_setting('lock_timeout') as t`)).rows[0]!.t;
      let blockedWriters = false;
      await writer.query('begin');
      try {
        await writer.query('lock table payments.saga_instances in row exclusive mode nowait');
      } catch (error) {
        if ((error as { code?: string }).code !== '55P03') throw error;
        blockedWriters = true;
      } finally {
        await writer.query('rollback');
      }
      await migrator.query('commit');
      steps.push({ sql: text.replace(/^(--.*\n|\n)*/, '').split('\n', 1)[0] ?? '', scanned, blockedWriters, lockTimeout });
    }
    return steps;
  } finally {
    await migrator.query('rollback').catch(() => undefined);
    migrator.release();
    writer.release();
  }
}

describe('payments migration 0014 (parked sagas) on a live database', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let sql: string;
  before(async () => {
    pool = database.pool(3);
    sql = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0014_saga_parked.sql'), 'utf8');
    // The table as 0014 found it, with sagas in it.
    await pool.query(`alter table payments.saga_instances drop column error_before_park, drop constraint saga_instances_status_check,
      add constraint saga_instances_status_check check (status in ('running', 'completed', 'compensating', 'compensated', 'failed'))`);
    await pool.query(`insert into payments.saga_instances (tenant_id, id, name, state, status) select $1, gen_random_uuid(), 'payment', '{}', 'running' from generate_series(1, 50)`, [randomUUID()]);
  });

  test('no transaction of it both scans saga_instances and keeps writers out; each that keeps them out gives up after a lock_timeout', async () => {
    const steps = await applyWatched(pool, sql);
    for (const step of steps) {
      assert.ok(!(step.scanned && step.blockedWriters), `scans the sagas while writers wait: ${JSON.stringify(step)}`);
      if (step.blockedWriters) assert.notEqual(step.lockTimeout, '0', `waits for its lock without a lock_timeout: ${JSON.stringify(step)}`);
    }
    assert.ok(steps.some((s) => s.scanned), 'the CHECK is validated (the existing rows are scanned)');
    const { rows } = await pool.query(`select convalidated from pg_constraint where conname = 'saga_instances_status_check' and conrelid = 'payments.saga_instances'::regclass`);
    assert.deepEqual(rows, [{ convalidated: true }]);
    await pool.query(`update payments.saga_instances set status = 'parked', error_before_park = 'why' where id = (select id from payments.saga_instances limit 1)`);
    await assert.rejects(pool.query(`update payments.saga_instances set status = 'lost'`), { code: '23514' });
    await applyWatched(pool, sql); // run again (a failed run is repeated): the same state
  });
});
