import { databaseUnavailableReason } from '../db/databaseUnavailable.ts';
import { describeLockHolder, type LockHolder } from './watchLockWaits.ts';

/** What {@link failedFileAdvice} needs to know of a failed file and its run. */
export interface FailedFile {
  readonly id: string;
  readonly noTransaction: boolean;
  /** The driver's error: its `code` is the SQLSTATE (none when the connection was lost). */
  readonly cause: unknown;
  /** The role the run connected as (`current_user`), which a privilege error names. */
  readonly role: string;
  /** The setting `url` came from (`DATABASE_URL`, `MENU_DATABASE_URL`), when the caller knows it. */
  readonly setting?: string | undefined;
  /** The command to run again: `brigade migrate`, `brigade start` … */
  readonly command: string;
  /** The sessions the file waited behind (`watchLockWaits`, or a deadlock's pids), empty when none was seen. */
  readonly holders: readonly LockHolder[];
  /** A transactional file's COMMIT had been sent, or a no-transaction file's tracking row: what a lost connection may have kept. */
  readonly finishing: boolean;
}

/** Why a file failed, from its SQLSTATE: what decides the advice. */
export type FailureKind = 'privilege' | 'lock' | 'lost' | 'server' | 'file';

/** SQLSTATE classes that are PostgreSQL's own trouble, not the file's SQL: insufficient resources, system error, operator intervention, internal error. */
const SERVER_CLASSES = new Set(['53', '58', '57', 'XX']);

/**
 * Why `cause` failed a file: `privilege` (42501), `lock` (55P03 lock timeout, 57014 cancelled, 40P01
 * deadlock, 40001 serialization failure, 55006 object in use: nothing wrong with the file, another
 * session was in the way), `lost` (the connection: class 08, 57P01–57P03, a socket error, or no code
 * at all), `server` (out of disk or memory, a server fault: classes 53, 58, 57, XX), else `file` (a
 * syntax, definition or data error of the file's: class 42, 22, 23 …).
 */
export function failureKind(cause: unknown): FailureKind {
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || databaseUnavailableReason(cause) !== undefined) return 'lost';
  if (code === '42501') return 'privilege';
  if (['55P03', '57014', '40P01', '40001', '55006'].includes(code)) return 'lock';
  if (SERVER_CLASSES.has(code.slice(0, 2))) return 'server';
  return 'file';
}

/**
 * The lines after `<file> failed: <PostgreSQL's message>`: what stays of the file, and what to do, by
 * {@link failureKind}. Before, every failure got "Fix the file (it has never been applied, so it may
 * still change)": a role without CREATEROLE was told to edit brigade's own first file, and a shipped file
 * whose `lock_timeout` gave up behind a long transaction (on purpose: "fails after 5 s, to run again
 * later") was called wrong.
 *
 * @example
 * failedFileAdvice({ id: 'delivery/0024_x.sql', noTransaction: false, cause, role: 'brigade', setting: 'DATABASE_URL', command: 'brigade migrate', holders, finishing: false });
 * // 'Nothing of it was applied. It waited for a lock that another session held: backend pid 4242 (…). Run brigade migrate again once it is done …'
 */
export function failedFileAdvice(failed: FailedFile): string {
  const kind = failureKind(failed.cause);
  if (kind === 'lost') return lostAdvice(failed);
  const code = (failed.cause as { code?: string }).code;
  const again = `run ${failed.command} again`;
  if (kind === 'file') {
    return failed.noTransaction
      ? `It ran outside a transaction, so statements before the failing one stay applied: make them idempotent (IF NOT EXISTS), drop any INVALID index, fix the file and ${again}.`
      : `Nothing of it was applied. Fix the file (it has never been applied, so it may still change) and ${again}.`;
  }
  // Not the file's fault: it stays as it is, and runs again as it is.
  const stays = failed.noTransaction
    ? 'It ran outside a transaction, so the statements before the failing one stay applied, and it is not recorded: the next run runs it again from its first statement.'
    : 'Nothing of it was applied.';
  const rerun = failed.noTransaction ? `drop any INVALID index a CREATE INDEX CONCURRENTLY cut short left, and ${again}` : again;
  if (kind === 'privilege') return `${stays} ${privilegeAdvice(failed)}; then ${rerun}.`;
  if (kind === 'lock') {
    const what =
      code === '40P01'
        ? 'It was chosen to end a deadlock with another session'
        : code === '57014'
          ? 'It was cancelled (a statement_timeout, or pg_cancel_backend from another session)'
          : code === '40001'
            ? 'It conflicted with another transaction'
            : 'It waited for a lock that another session held, past its lock_timeout';
    const { holders } = failed;
    if (holders.length > 0) {
      const one = holders.length === 1;
      return (
        `${stays} ${what}: ${holders.map(describeLockHolder).join('; ')}. ` +
        `Once ${one ? 'that session has' : 'those sessions have'} finished (or ended: select pg_terminate_backend(<pid>)), ${rerun}.`
      );
    }
    if (code === '57014') return `${stays} ${what}. If a statement_timeout of the role or the database cut it short (SHOW statement_timeout), raise it for the migrating role; then ${rerun}.`;
    return `${stays} ${what}. Once the sessions in a long transaction (pg_stat_activity, xact_start) have finished, ${rerun}.`;
  }
  return `${stays} PostgreSQL could not run it for a reason of its own (SQLSTATE ${code}: out of disk or memory, a server fault), not the file's SQL: mend that (the server's log says more), then ${rerun}.`;
}

/**
 * What the migrating role lacks (42501), naming it and the setting it comes from. Creating the brigade_
 * roles and the services' schemas (the first file) is what a managed PostgreSQL's ordinary database
 * owner lacks; any other privilege error (must be owner of …) is about what the earlier migrations made,
 * which their role owns.
 */
function privilegeAdvice(failed: FailedFile): string {
  const message = String((failed.cause as { message?: unknown }).message ?? '');
  const { role, setting } = failed;
  const who = setting === undefined ? `The role brigade migrates as (${role})` : `${setting}'s role (${role})`;
  if (/create role|grant role|admin option|for database|create schema|for schema/i.test(message)) {
    const fix = setting === undefined ? 'Migrate as such a role' : `Give ${role} CREATEROLE (alter role ${role} createrole, as a superuser or the provider's admin role), or point ${setting} at such a role`;
    return `${who} may not do what the file does: migrating needs a role with CREATEROLE that may create schemas in the database (its owner, say), or a superuser. ${fix}`;
  }
  return (
    `${who} may not do what the file does: migrating needs the role that ran the earlier migrations (it owns what they made), or a superuser. ` +
    (setting === undefined ? 'Migrate as that role' : `Point ${setting} at that role`)
  );
}

/** A connection lost while the file ran: the database went away, and what may stay of the file. */
function lostAdvice(failed: FailedFile): string {
  const reason = databaseUnavailableReason(failed.cause) ?? 'the connection was closed';
  const stays = failed.noTransaction
    ? failed.finishing
      ? 'All its statements had run (outside a transaction) and stay applied; its tracking row may or may not have been written'
      : 'It ran outside a transaction: the statements before the one that was running stay applied (that one perhaps too), and it is not recorded'
    : failed.finishing
      ? 'Its COMMIT had been sent, so it may or may not have been applied and recorded'
      : 'Nothing of it was applied (its transaction never committed)';
  return `The database went away while it ran (${reason}). ${stays}. Once it answers again, brigade migrate status shows what is applied; then run ${failed.command} again.`;
}
