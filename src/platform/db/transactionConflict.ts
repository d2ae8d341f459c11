import { BrigadeError } from '../errors/index.ts';

/** What a client told {@link TransactionConflictError} is asked to wait before it tries again (`Retry-After`). */
export const TRANSACTION_CONFLICT_RETRY_AFTER_SECONDS = 1;

/**
 * SQLSTATEs of a transaction PostgreSQL aborted because it met another at the same moment: a deadlock
 * (40P01), whose victim it was, or a serialization failure (40001). Either rolled it back whole.
 */
const CONFLICTS: Readonly<Record<string, string>> = {
  '40P01': 'a deadlock with another transaction',
  '40001': 'a serialization failure',
};

/**
 * 503 `TRANSACTION_CONFLICT`: PostgreSQL aborted the work because it collided with another request's
 * at the same moment ({@link CONFLICTS}); nothing of it was written, and the same request sent again
 * will very likely pass. Not a 500: the client did nothing wrong and the server is not broken, and a
 * 409 or 412 would tell the client that its data is stale, which it is not. `details.retryAfterSeconds`
 * becomes the response's `Retry-After`; workers retry it (`retryable`).
 *
 * Code that takes turns on purpose (one lock order, as every menu write does) should not meet this;
 * the mapping is for what is left.
 */
export class TransactionConflictError extends BrigadeError {
  /** A later attempt may well succeed. */
  readonly retryable = true;
  constructor(reason: string, cause: unknown) {
    super('TRANSACTION_CONFLICT', 503, `The work collided with another request's at the same moment (${reason}) and was rolled back, so nothing was written: send the same request again.`, {
      cause,
      details: { retryAfterSeconds: TRANSACTION_CONFLICT_RETRY_AFTER_SECONDS },
    });
  }
}

/**
 * `error` as a {@link TransactionConflictError} when it, or an error it was caused by (a statement of
 * the same batch that did not run, `BatchAbortedError`), is PostgreSQL's deadlock or serialization
 * failure; `undefined` for anything else. Units of work keep the driver's error (workers and tests
 * match its SQLSTATE); the HTTP error mapping asks this.
 *
 * @example
 * const conflict = asTransactionConflict(error);
 * if (conflict !== undefined) throw conflict; // 503, Retry-After: 1
 */
export function asTransactionConflict(error: unknown): TransactionConflictError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BrigadeError) return undefined;
    const code = (e as { code?: unknown }).code;
    const reason = typeof code === 'string' ? CONFLICTS[code] : undefined;
    if (reason !== undefined) return new TransactionConflictError(reason, error);
  }
  return undefined;
}
