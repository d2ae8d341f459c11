import os from 'node:os';
import pg from 'pg';
import { discoverMigrations, NO_TRANSACTION_MARKER, type MigrationFile, type MigrationSet } from './discoverMigrations.ts';
import { MigrationDriftError, MigrationFileError, MigrationOrderError } from './errors.ts';
import { highestApplied, inspectMigrations, TRACKING_TABLE, type MigrationStatusRow } from './inspectMigrations.ts';
import { splitStatements } from './splitStatements.ts';
import { transactionControlStatements } from './transactionControlStatements.ts';

/** Options for {@link runMigrations}. */
export interface RunMigrationsOptions {
  /** Connection string of the database to migrate, as a role that may create schemas and roles. */
  readonly url: string;
  /** The sets, in the order they apply: the platform's first, then each service's. */
  readonly sets: readonly MigrationSet[];
  /** Print what would run, run nothing. */
  readonly dryRun?: boolean;
  /** One line per step: waiting for the lock, each file with its duration. */
  readonly onProgress?: (line: string) => void;
}

/** What a run did (or, with `dryRun`, would do). */
export interface MigrationRunResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

/**
 * Serialises migrators across processes: every `brigade migrate` takes this session-level advisory
 * lock, so five concurrent runs apply each file exactly once and all exit 0. (A session lock, not a
 * transaction one: `-- brigade:no-transaction` files run outside any transaction.)
 */
export const MIGRATION_LOCK_KEY = '7301265839251847';

/**
 * Applies pending migrations, forward only. Each file runs in its own transaction together with its
 * tracking row, unless its first line is `-- brigade:no-transaction`; a transactional file with a
 * top-level BEGIN, COMMIT, ROLLBACK, END or START TRANSACTION is refused. Refuses to run at all while an
 * applied file changed or disappeared ({@link MigrationDriftError}) or a new file is numbered below an
 * applied one ({@link MigrationOrderError}). Rows numbered above every file of their set were applied
 * by a newer release: a warning line each, no refusal (old and new releases run side by side).
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationRunResult> {
  const progress = options.onProgress ?? (() => undefined);
  const files = await discoverMigrations(options.sets);
  const client = new pg.Client({ connectionString: options.url, application_name: 'brigade-migrate' });
  await client.connect();
  client.on('error', () => undefined);
  try {
    if (options.dryRun === true) {
      const pending = refuseUnsafe(await inspectMigrations(client, files), files, progress);
      for (const f of pending) progress(`would apply ${f.id}${f.noTransaction ? ' (no transaction)' : ''}`);
      progress(pending.length === 0 ? 'nothing to apply: the database is current' : `${pending.length} file(s) would be applied`);
      return { applied: pending.map((f) => f.id), alreadyApplied: files.length - pending.length };
    }
    await takeLock(client, progress);
    await client.query(
      `create schema if not exists brigade_meta;
       revoke all on schema brigade_meta from public;
       create table if not exists ${TRACKING_TABLE} (
         set_name    text        not null,
         name        text        not null,
         checksum    text        not null check (checksum ~ '^[0-9a-f]{64}$'),
         applied_at  timestamptz not null default now(),
         duration_ms integer     not null,
         applied_by  text        not null,
         primary key (set_name, name)
       )`,
    );
    const pending = refuseUnsafe(await inspectMigrations(client, files), files, progress);
    const appliedBy = `${(await client.query<{ u: string }>('select current_user as u')).rows[0]?.u ?? '?'} via ${os.userInfo().username}@${os.hostname()} pid ${process.pid}`;
    const applied: string[] = [];
    for (const [index, file] of pending.entries()) {
      const started = performance.now();
      await applyFile(client, file, appliedBy, started);
      const ms = Math.round(performance.now() - started);
      applied.push(file.id);
      progress(`[${index + 1}/${pending.length}] applied ${file.id} in ${ms} ms${file.noTransaction ? ' (no transaction)' : ''}`);
    }
    progress(applied.length === 0 ? 'nothing to apply: the database is current' : `applied ${applied.length} migration(s)`);
    return { applied, alreadyApplied: files.length - applied.length };
  } finally {
    // Ending the session releases the advisory lock.
    await client.end().catch(() => undefined);
  }
}

/**
 * Waits for the migration lock by polling `pg_try_advisory_lock`, never by blocking in
 * `pg_advisory_lock`: a waiter blocked there sits inside a statement's transaction, and
 * `CREATE INDEX CONCURRENTLY` in the lock holder waits for every such transaction to end, so the
 * two deadlock (seen in the five-migrator test). Each poll is a short transaction of its own.
 */
async function takeLock(client: pg.Client, progress: (line: string) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const locked = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [MIGRATION_LOCK_KEY]);
    if (locked.rows[0]?.ok === true) return;
    if (attempt === 0) progress('another migrator holds the migration lock; waiting for it to finish …');
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
  }
}

/**
 * Throws on drift or out-of-order files, and on a pending transactional file that begins or ends a
 * transaction itself; warns of rows a newer release applied (`ahead`, left be); returns the pending
 * files in apply order.
 */
function refuseUnsafe(rows: readonly MigrationStatusRow[], files: readonly MigrationFile[], progress: (line: string) => void): MigrationFile[] {
  const drift = rows.filter((r) => r.state === 'changed' || r.state === 'missing').map((r) => ({ id: r.id, problem: r.state as 'changed' | 'missing' }));
  if (drift.length > 0) throw new MigrationDriftError(drift);
  const late = rows.filter((r) => r.state === 'out-of-order');
  if (late.length > 0) throw new MigrationOrderError(late.map((r) => ({ id: r.id, below: highestApplied(rows, r.id.split('/')[0] ?? '') })));
  for (const r of rows) {
    if (r.state === 'ahead') progress(`warning: ${r.id} was applied by a newer release (this release has no such file); left as it is`);
  }
  const pending = new Set(rows.filter((r) => r.state === 'pending').map((r) => r.id));
  const toApply = files.filter((f) => pending.has(f.id));
  // A COMMIT in a file would commit the runner's transaction early: a later failure would leave part of
  // the file applied and unrecorded. Checked for every pending file before any runs.
  const controlled = toApply.flatMap((f) => (f.noTransaction ? [] : [{ id: f.id, statements: transactionControlStatements(f.sql) }])).filter((c) => c.statements.length > 0);
  if (controlled.length > 0) {
    throw new MigrationFileError(
      `Migration files run in a transaction of the runner's (with their tracking row) and may not begin or end one themselves:\n` +
        `${controlled.map((c) => `  ${c.id}: ${c.statements.map((s) => JSON.stringify(s)).join(', ')}`).join('\n')}\n` +
        `Remove these statements, or make the file's first line '${NO_TRANSACTION_MARKER}' to run it statement by statement outside a transaction. Nothing was applied.`,
      { details: { files: controlled } },
    );
  }
  return toApply;
}

async function applyFile(client: pg.Client, file: MigrationFile, appliedBy: string, started: number): Promise<void> {
  const record = () =>
    client.query(`insert into ${TRACKING_TABLE} (set_name, name, checksum, duration_ms, applied_by) values ($1, $2, $3, $4, $5)`, [
      file.set,
      file.name,
      file.checksum,
      Math.round(performance.now() - started),
      appliedBy,
    ]);
  try {
    if (file.noTransaction) {
      for (const statement of splitStatements(file.sql)) await client.query(statement);
      await record();
    } else {
      await client.query('begin');
      await client.query(file.sql);
      await record();
      await client.query('commit');
    }
  } catch (cause) {
    if (!file.noTransaction) await client.query('rollback').catch(() => undefined);
    const pgError = cause as { message?: string; position?: string };
    throw new MigrationFileError(
      `${file.id} failed: ${pgError.message ?? String(cause)}${pgError.position ? ` (at character ${pgError.position})` : ''}\n` +
        (file.noTransaction
          ? 'It ran outside a transaction, so statements before the failing one stay applied: make them idempotent (IF NOT EXISTS), drop any INVALID index, fix the file and run brigade migrate again.'
          : 'Nothing of it was applied. Fix the file (it has never been applied, so it may still change) and run brigade migrate again.'),
      { cause, details: { file: file.id } },
    );
  }
}
