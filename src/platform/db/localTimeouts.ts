import type { UnitOfWorkOptions } from './unitOfWork.ts';
import type { Statement } from './transactionSetup.ts';

/**
 * `statement_timeout` and `lock_timeout` for the rest of the transaction (transaction-local), both the
 * time left until `until` (ms since the epoch; see {@link timeLeftSetting}): run first in a transaction
 * on a database that may hang while it stays connected (a lock, a stall), so that its statements end
 * IN the database by then and give their connection back, not only the caller who stopped waiting. A
 * statement cut short fails with SQLSTATE 57014 or 55P03 ({@link isLocalTimeout}).
 *
 * @example
 * await unitOfWork(pool, context, (tx) => readView(tx, view, query), { setupStatements: [localTimeouts(Date.now() + 1000)] });
 */
export function localTimeouts(until: number): Statement {
  return {
    name: 'brigade_local_timeouts',
    resultless: true,
    text: `select set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true)`,
    values: [timeLeftSetting(until)],
  };
}

/** `unitOfWork`'s options that bound the transaction in the database until `until` ({@link localTimeouts}); none without it. */
export function boundedUntil(until: number | undefined): UnitOfWorkOptions {
  return until === undefined ? {} : { setupStatements: [localTimeouts(until)] };
}

/** The ms left until `until`, as a timeout setting's value: at least 1 (0 would turn the timeout off). */
export function timeLeftSetting(until: number): string {
  return String(Math.max(1, Math.ceil(until - Date.now())));
}

/** Whether `error` is a statement that a statement or lock timeout ({@link localTimeouts}) cut short. */
export function isLocalTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '57014' || code === '55P03';
}
