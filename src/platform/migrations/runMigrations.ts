import os from 'node:os';
import pg from 'pg';
import { cancelBackend, CLIENT_CONNECTION_CHECK } from '../db/cancelBackend.ts';
import { connectClient, ConnectingClient, DEFAULT_CONNECT_TIMEOUT_MS } from '../db/connectingClient.ts';
import { osUserName } from '../runtime/osUserName.ts';
import { discoverMigrations, NO_TRANSACTION_MARKER, type MigrationFile, type MigrationSet } from './discoverMigrations.ts';
import { MigrationDriftError, MigrationFileError, MigrationInterruptedError, MigrationOrderError, type InterruptedFile, type MigrationRefusalOptions } from './errors.ts';
import { failedFileAdvice, failureKind } from './failedFileAdvice.ts';
import { aheadWarning, highestApplied, inspectMigrations, TRACKING_TABLE, type MigrationStatusRow } from './inspectMigrations.ts';
import { splitStatements } from './splitStatements.ts';
import { transactionControlStatements } from './transactionControlStatements.ts';
import { readLockHolders, watchLockWaits, type LockHolder } from './watchLockWaits.ts';

/** A file still running after this long is named (`[i/n] applying …`) before it ends, and the sessions it may wait behind watched (`watchLockWaits`). */
const SLOW_FILE_MS = 1000;

/** Options for {@link runMigrations}. */
export interface RunMigrationsOptions {
  /** Connection string of the database to migrate, as a role that may create schemas and roles. */
  readonly url: string;
  /** The sets, in the order they apply: the platform's first, then each service's. */
  readonly sets: readonly MigrationSet[];
  /** Print what would run, run nothing. */
  readonly dryRun?: boolean;
  /** One line per step: waiting for the lock, each file before it runs and with its duration after. */
  readonly onProgress?: (line: string) => void;
  /** A line for each `ahead` row ({@link aheadWarning}); `onProgress` when absent. `brigade migrate` prints them on stderr. */
  readonly onWarning?: (line: string) => void;
  /**
   * Stops the run: the statement running is cancelled (its file's transaction rolls back), the lock is
   * released, and the run ends with {@link MigrationInterruptedError}, which says what stays of the file
   * it was on. A `-- brigade:no-transaction` file whose statements have all run is recorded first (they
   * are applied whatever happens now): its tracking row is never cancelled. An abort that comes as a
   * file finishes stops the run before the next file (after the last one, the run has finished and
   * returns). `brigade migrate` and `brigade start` abort it on SIGINT and SIGTERM, with the signal's
   * name as the reason.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * The embedded PostgreSQL's data directory, when `url` is that server's (`.brigade/pg`, no
   * `DATABASE_URL`): a refusal (drift, out-of-order files) then tells its user how to start afresh or
   * go back to the build that made it, instead of how to write a migration.
   */
  readonly embeddedDataDir?: string | undefined;
  /**
   * How long, in ms, the connection may take to open (`DATABASE_ACQUIRE_TIMEOUT_MS` from the CLI):
   * a server that takes it and never answers (another program's port) fails the run then, its error
   * marked as a connection attempt's (`connectFailureOf`). Default {@link DEFAULT_CONNECT_TIMEOUT_MS}.
   */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * The command that runs the migrations, as the interruption's and a failed file's messages tell the
   * user to run it again (`brigade start`, `brigade demo`). Default `brigade migrate`.
   */
  readonly command?: string | undefined;
  /**
   * The setting `url` came from (`DATABASE_URL`, `MENU_DATABASE_URL`), which a file failed for want of a
   * privilege names with the role: "DATABASE_URL's role (app) may not do what the file does: migrating
   * needs a role with CREATEROLE …". Without it: "the role brigade migrates as (app)".
   */
  readonly setting?: string | undefined;
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
 * Undoes what a file may have left in the session, so that the next file starts from the session the
 * runner opened, whether it runs in the same run or in a later one: a plain `SET` (search_path, a
 * timeout) outlives its file's COMMIT, and any SET outlives a no-transaction file; a `SET ROLE` or `SET
 * SESSION AUTHORIZATION` would also have the file's tracking row written as that role. It is what
 * `DISCARD ALL` does but `pg_advisory_unlock_all()`, which would release the migration lock (and
 * `DISCARD ALL` may not run inside the transaction of a file). `RESET ALL` leaves the session user
 * and the role be, so they come first (as the session's own user, `RESET ALL` may reset any
 * setting); the runner's own setting ({@link CLIENT_CONNECTION_CHECK}) is set again last. A
 * transactional file's session is reset inside its transaction, before its tracking row.
 */
const RESET_SESSION = `reset session authorization; reset role; reset all; close all; deallocate all; unlisten *; discard plans; discard temp; discard sequences; ${CLIENT_CONNECTION_CHECK}`;

/**
 * Applies pending migrations, forward only. Each file runs in its own transaction together with its
 * tracking row, unless its first line is `-- brigade:no-transaction`; a transactional file with a
 * top-level BEGIN, COMMIT, ROLLBACK, END or START TRANSACTION is refused. Refuses to run at all while an
 * applied file changed or disappeared ({@link MigrationDriftError}) or a new file is numbered below an
 * applied one ({@link MigrationOrderError}). Rows numbered above every file of their set were applied
 * by a newer release (or are a deleted newest file): a warning line each, no refusal (old and new
 * releases run side by side).
 *
 * The session sets `client_connection_check_interval`: a migrator killed outright (a second Ctrl+C,
 * SIGKILL) leaves no backend running its statement and holding the lock for the next one to wait on.
 * Each file starts from that session ({@link RESET_SESSION}): what a file sets (`SET search_path`,
 * `SET ROLE`) ends with it, as it would were the next file applied by a run of its own. A
 * no-transaction file that leaves a transaction open (a BEGIN without its COMMIT) fails the run:
 * what ran since its BEGIN is rolled back, and it is not recorded.
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationRunResult> {
  const progress = options.onProgress ?? (() => undefined);
  const warn = options.onWarning ?? progress;
  const files = await discoverMigrations(options.sets);
  const signal = options.signal;
  signal?.throwIfAborted();
  const client = new ConnectingClient({ connectionString: options.url, application_name: 'brigade-migrate', connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  /** What the run is doing now, for the interruption's message. */
  let doing = 'connecting';
  /** The file being applied (or the last one applied) and how far it got, for the interruption's message. */
  let current: { readonly file: MigrationFile; readonly progress: FileProgress } | undefined;
  /** The abort's cancel of the running statement, awaited before anything else runs on the session. */
  let cancelling: Promise<void> | undefined;
  let pid: number | undefined;
  const onAbort = () => {
    // A no-transaction file's tracking row, once every statement ran, is let finish: cancelled, it
    // would leave the file applied and unrecorded.
    if (pid !== undefined && current?.progress.recording !== true) cancelling = cancelBackend(options.url, pid, 'brigade-migrate-cancel');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const settled = async () => {
    await cancelling;
  };
  try {
    // An abort while connecting (a server that never answers) destroys the attempt at once.
    await connectClient(client, signal);
    pid = (await client.query<{ pid: number }>(CLIENT_CONNECTION_CHECK)).rows[0]?.pid;
    signal?.throwIfAborted();
    doing = 'reading what is applied';
    if (options.dryRun === true) {
      const pending = refuseUnsafe(await inspectMigrations(client, files), files, warn, options);
      for (const f of pending) progress(`would apply ${f.id}${f.noTransaction ? ' (no transaction)' : ''}`);
      progress(pending.length === 0 ? 'nothing to apply: the database is current' : `${pending.length} file(s) would be applied`);
      return { applied: pending.map((f) => f.id), alreadyApplied: files.length - pending.length };
    }
    doing = 'waiting for the migration lock';
    await takeLock(client, progress, signal);
    doing = 'reading what is applied';
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
    const pending = refuseUnsafe(await inspectMigrations(client, files), files, warn, options);
    // A uid with no passwd entry (a container's runAsUser) has no name: its number says who.
    const osUser = osUserName() ?? `uid ${process.getuid?.() ?? '?'}`;
    const role = (await client.query<{ u: string }>('select current_user as u')).rows[0]?.u ?? '?';
    const appliedBy = `${role} via ${osUser}@${os.hostname()} pid ${process.pid}`;
    const failure: FailureContext = { url: options.url, pid, role, setting: options.setting, command: options.command ?? 'brigade migrate', connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS };
    const applied: string[] = [];
    for (const [index, file] of pending.entries()) {
      signal?.throwIfAborted();
      doing = `applying ${file.id}`;
      const step = `[${index + 1}/${pending.length}]`;
      // Named before it ends only when it is slow (or interrupted): which file is waiting shows, and a
      // run of quick files prints one line each.
      const applying = `${step} applying ${file.id}${file.noTransaction ? ' (no transaction)' : ''} …`;
      let named = false;
      const name = () => {
        if (!named) progress(applying);
        named = true;
      };
      const slow = setTimeout(name, SLOW_FILE_MS);
      const started = performance.now();
      const reached: FileProgress = { finished: 0, statements: 0, recording: false, recorded: false };
      current = { file, progress: reached };
      try {
        await applyFile(client, file, appliedBy, started, reached, { signal, settled }, failure);
      } catch (error) {
        if (signal?.aborted === true) name();
        throw error;
      } finally {
        clearTimeout(slow);
      }
      const ms = Math.round(performance.now() - started);
      applied.push(file.id);
      progress(`${step} applied ${file.id} in ${ms} ms${file.noTransaction ? ' (no transaction)' : ''}`);
    }
    progress(applied.length === 0 ? 'nothing to apply: the database is current' : `applied ${applied.length} migration(s)`);
    return { applied, alreadyApplied: files.length - applied.length };
  } catch (error) {
    // A file left a transaction open: that is what the user must hear, even when an abort came as it finished.
    if (signal?.aborted !== true || isOpenTransactionRefusal(error)) throw error;
    throw new MigrationInterruptedError(signal.reason, doing, interruptedFile(current), { cause: error, command: options.command });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await settled();
    // Ending the session releases the advisory lock.
    await client.end().catch(() => undefined);
  }
}

/**
 * Waits for the migration lock by polling `pg_try_advisory_lock`, never by blocking in
 * `pg_advisory_lock`: a waiter blocked there sits inside a statement's transaction, and
 * `CREATE INDEX CONCURRENTLY` in the lock holder waits for every such transaction to end, so the
 * two deadlock (seen in the five-migrator test). Each poll is a short transaction of its own.
 *
 * The waiting line names the holder, once. A holder that let go between the failed try and the
 * look-up is not there to name: the lock is tried again at once, and the line waits for a holder that is
 * (before, it said "another migrator (it has just finished) holds the migration lock; waiting …").
 */
async function takeLock(client: pg.Client, progress: (line: string) => void, signal: AbortSignal | undefined): Promise<void> {
  let named = false;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const locked = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [MIGRATION_LOCK_KEY]);
    if (locked.rows[0]?.ok === true) return;
    if (!named) {
      const holder = await lockHolder(client);
      // Gone already: try again now rather than wait for nobody. Only a few times in a row, so that a
      // holder the look-up cannot see (it always should) costs a poll's wait, not a busy loop.
      if (holder === undefined && attempt < 3) continue;
      if (holder !== undefined) progress(`another migrator (${holder}) holds the migration lock; waiting for it to finish …`);
      named = holder !== undefined;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(50 * 2 ** attempt, 500));
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Who holds the migration lock, for the waiting line: its backend pid and application, so that a
 * stuck holder can be found (`pg_stat_activity`) and, if need be, ended (`pg_terminate_backend`);
 * `undefined` when nobody does any more. A bigint advisory key shows in `pg_locks` as its high 32 bits
 * (classid) and low 32 bits (objid).
 */
async function lockHolder(client: pg.Client): Promise<string | undefined> {
  const { rows } = await client.query<{ pid: number; app: string | null }>(
    `select l.pid, a.application_name as app
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1 and l.database = (select oid from pg_database where datname = current_database())
        and ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
    [MIGRATION_LOCK_KEY],
  );
  const holder = rows[0];
  return holder === undefined ? undefined : `backend pid ${holder.pid}${holder.app ? `, ${holder.app}` : ''}`;
}

/**
 * Throws on drift or out-of-order files, and on a pending transactional file that begins or ends a
 * transaction itself; warns of rows a newer release applied (`ahead`, left be); returns the pending
 * files in apply order.
 */
function refuseUnsafe(rows: readonly MigrationStatusRow[], files: readonly MigrationFile[], warn: (line: string) => void, refusal: MigrationRefusalOptions): MigrationFile[] {
  const drift = rows.filter((r) => r.state === 'changed' || r.state === 'missing').map((r) => ({ id: r.id, problem: r.state as 'changed' | 'missing' }));
  if (drift.length > 0) throw new MigrationDriftError(drift, refusal);
  const late = rows.filter((r) => r.state === 'out-of-order');
  if (late.length > 0) throw new MigrationOrderError(late.map((r) => ({ id: r.id, below: highestApplied(rows, r.id.split('/')[0] ?? '') })), refusal);
  for (const r of rows) {
    if (r.state === 'ahead') warn(aheadWarning(r.id));
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

/** How far {@link applyFile} got with a file: what an interruption's message says stays of it. */
interface FileProgress {
  /** A no-transaction file's statements that have returned, of `statements`. */
  finished: number;
  statements: number;
  /** A no-transaction file's tracking row is being written, its statements all run: an abort does not cancel it. */
  recording: boolean;
  /** The file is applied and recorded (committed, for a transactional one). */
  recorded: boolean;
}

/** What stays of the file the run was on, for {@link MigrationInterruptedError}. */
function interruptedFile(current: { readonly file: MigrationFile; readonly progress: FileProgress } | undefined): InterruptedFile | undefined {
  if (current === undefined) return undefined;
  const { file, progress } = current;
  if (progress.recorded) return { id: file.id, state: 'recorded' };
  if (!file.noTransaction) return { id: file.id, state: 'rolled back' };
  return { id: file.id, state: 'outside a transaction', finished: progress.finished, statements: progress.statements };
}

/** What a failed file's message names ({@link failedFileAdvice}), and where to look for the sessions it waited behind. */
interface FailureContext {
  readonly url: string;
  /** The migrator's backend, whose lock waits {@link watchLockWaits} follows; none known, none followed. */
  readonly pid: number | undefined;
  readonly role: string;
  readonly setting: string | undefined;
  readonly command: string;
  readonly connectTimeoutMs: number;
}

/**
 * Applies one file with its tracking row, noting how far it got in `progress`. `signal` is checked
 * before each statement is sent (a cancel reaches only a statement the server is running); `settled`
 * waits for an abort's cancel in flight, so that it lands before the rollback, not on it.
 *
 * A no-transaction file whose statements have all returned is applied whatever happens next, so its
 * tracking row is written even when the run was aborted meanwhile: after the abort's cancel in flight
 * has landed (on an idle session, where it does nothing), and with no check of `signal`. The run
 * reports the interruption once it is recorded. (Before, the abort check refused the tracking row: the
 * file stayed applied and unrecorded, and the next run applied it again and failed.)
 *
 * The session is reset ({@link RESET_SESSION}) before the tracking row, which is written as the runner.
 *
 * A failure's message says what to do by its SQLSTATE ({@link failedFileAdvice}): fix the file only
 * for an error of the file's own; for a lock it waited on past its `lock_timeout` (or a deadlock), the
 * sessions it waited behind, which {@link watchLockWaits} notes while the file runs.
 */
async function applyFile(
  client: pg.Client,
  file: MigrationFile,
  appliedBy: string,
  started: number,
  progress: FileProgress,
  abort: { readonly signal: AbortSignal | undefined; readonly settled: () => Promise<void> },
  failure: FailureContext,
): Promise<void> {
  const query = (text: string, values?: unknown[]) => {
    abort.signal?.throwIfAborted();
    return client.query(text, values);
  };
  const tracking = `insert into ${TRACKING_TABLE} (set_name, name, checksum, duration_ms, applied_by) values ($1, $2, $3, $4, $5)`;
  const row = () => [file.set, file.name, file.checksum, Math.round(performance.now() - started), appliedBy];
  const watch = failure.pid === undefined ? undefined : watchLockWaits(failure.url, failure.pid, { afterMs: SLOW_FILE_MS, connectTimeoutMs: failure.connectTimeoutMs });
  /** A transactional file's COMMIT, or a no-transaction file's tracking row, was sent: a lost connection may have kept it. */
  let finishing = false;
  try {
    if (file.noTransaction) {
      const statements = splitStatements(file.sql);
      progress.statements = statements.length;
      for (const statement of statements) {
        await query(statement);
        progress.finished++;
      }
      // A BEGIN of the file's without its COMMIT: the tracking row would be written in that transaction,
      // and the end of the session (or the next file's COMMIT) would roll it back with the file's work
      // (or commit both with the next file's), after "applied" was printed. The protocol's transaction
      // status after the last statement says so exactly.
      if (client.getTransactionStatus() !== 'I') {
        await abort.settled();
        await client.query('rollback').catch(() => undefined);
        throw openTransactionRefusal(file);
      }
      progress.recording = true;
      await abort.settled();
      await client.query(RESET_SESSION);
      finishing = true;
      await client.query(tracking, row());
    } else {
      await query('begin');
      await query(file.sql);
      await query(RESET_SESSION);
      await query(tracking, row());
      finishing = true;
      await query('commit');
    }
    progress.recorded = true;
  } catch (cause) {
    if (isOpenTransactionRefusal(cause)) throw cause;
    await abort.settled();
    if (!file.noTransaction) await client.query('rollback').catch(() => undefined);
    const pgError = cause as { message?: string; position?: string; code?: string; detail?: string };
    const holders = [...((await watch?.stop()) ?? [])];
    // A deadlock found before the watch looked: PostgreSQL's detail names the other processes.
    if (holders.length === 0 && pgError.code === '40P01') holders.push(...(await deadlockPartners(client, pgError.detail, failure.pid)));
    throw new MigrationFileError(
      `${file.id} failed: ${pgError.message ?? String(cause)}${pgError.position ? ` (at character ${pgError.position})` : ''}\n` +
        failedFileAdvice({ id: file.id, noTransaction: file.noTransaction, cause, role: failure.role, setting: failure.setting, command: failure.command, holders, finishing }),
      { cause, details: { file: file.id, reason: failureKind(cause) } },
    );
  } finally {
    await watch?.stop();
  }
}

/** The other sessions a deadlock's detail names ("Process 12 waits for … blocked by process 34."), as they are now; none when they cannot be read. */
async function deadlockPartners(client: pg.Client, detail: string | undefined, own: number | undefined): Promise<LockHolder[]> {
  const pids = [...new Set([...(detail ?? '').matchAll(/\bprocess (\d+)/gi)].map((m) => Number(m[1])))].filter((p) => p !== own);
  return readLockHolders(client, pids).catch(() => pids.map((pid) => ({ pid, user: null, app: null, state: null, transactionSeconds: null })));
}

/** The refusal of a no-transaction file that left a transaction open, its work since its BEGIN rolled back. */
function openTransactionRefusal(file: MigrationFile): MigrationFileError {
  return new MigrationFileError(
    `${file.id} left a transaction open: it runs statement by statement (${NO_TRANSACTION_MARKER}), and a BEGIN or START TRANSACTION in it has no COMMIT after it. ` +
      'What ran since that BEGIN was rolled back, the statements before it stay applied, and the file is not recorded.\n' +
      'Close the transaction in the file (add its COMMIT), or remove the BEGIN (each statement of such a file commits on its own); make the statements before it able to run twice (IF NOT EXISTS), and run brigade migrate again.',
    { details: { file: file.id, openTransaction: true } },
  );
}

/** Whether `error` is {@link openTransactionRefusal}'s. */
function isOpenTransactionRefusal(error: unknown): boolean {
  return error instanceof MigrationFileError && error.details['openTransaction'] === true;
}
