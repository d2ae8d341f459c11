import pg from 'pg';
import { unitOfWork, type Tx } from '../db/index.ts';
import { boundedUntil, isLocalTimeout } from '../db/localTimeouts.ts';
import { answerWithin } from '../runtime/answerWithin.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import type { Projection } from './types.ts';

/**
 * The head of the projection's event log in this database: the position of the last event committed
 * and visible to the transaction's snapshot, or the start of the log when there is none. Unlike a page
 * of the global order it does not stop below the oldest running transaction: an event a command has
 * committed is at or before the head of its database, however far the projector's bound is behind.
 *
 * Needs a transaction whose actor reads every tenant's events (kind `system` or `admin`), as the
 * projector's own does (`runProjection`): any other sees only its tenant's, under row-level security.
 * One backward step on `events_global_order`.
 *
 * @example
 * const head = await unitOfWork(pool, { service: 'ordering', readOnly: true, actor: { kind: 'system', id: 'projection.board' } }, (tx) => readLogHead(tx, board));
 */
export async function readLogHead(tx: Tx, projection: Pick<Projection, 'store'>): Promise<GlobalPosition> {
  const { rows } = await tx.query<{ transaction_id: string; global_position: string }>(
    `select e.transaction_id::text as transaction_id, e.global_position::text as global_position
       from ${pg.escapeIdentifier(projection.store.schema)}.events e
      order by e.transaction_id desc, e.global_position desc
      limit 1`,
  );
  const row = rows[0];
  return row === undefined ? START : { transactionId: BigInt(row.transaction_id), position: BigInt(row.global_position) };
}

/** Options of {@link readLogHeadOf}. */
export interface ReadLogHeadOfOptions {
  /** The longest the caller waits for the answer, in ms. Default 2000. */
  readonly timeoutMs?: number;
  /** Stops waiting for the answer (e.g. the client went away). */
  readonly signal?: AbortSignal;
}

/**
 * {@link readLogHead} in its own read-only transaction on `pool`, as the projection's system actor
 * (the projector's own view of the log), or `undefined` when no answer came within `timeoutMs` or
 * `signal` aborted first: the caller stops waiting then, so a database that is slow or does not answer
 * holds no caller past its bound. The transaction is bounded in the database too (`localTimeouts`:
 * `statement_timeout` and `lock_timeout` of `timeoutMs`), so one stuck behind a lock ends there by
 * then and gives its connection back.
 *
 * @example
 * const head = await readLogHeadOf(pool, board, { timeoutMs: 500, signal });
 * if (head === undefined) return lagging();
 */
export async function readLogHeadOf(pool: pg.Pool, projection: Pick<Projection, 'store' | 'service' | 'name'>, options: ReadLogHeadOfOptions = {}): Promise<GlobalPosition | undefined> {
  const timeoutMs = options.timeoutMs ?? 2000;
  if (timeoutMs <= 0 || options.signal?.aborted === true) return undefined;
  const read = unitOfWork(pool, { service: projection.service, readOnly: true, actor: { kind: 'system', id: `projection.${projection.name}` } }, (tx) => readLogHead(tx, projection), boundedUntil(Date.now() + timeoutMs)).catch(
    (error: unknown) => {
      // Cut short in the database at the bound: no answer in time, as when the caller stops waiting.
      if (isLocalTimeout(error)) return undefined;
      throw error;
    },
  );
  return answerWithin(read, timeoutMs, options.signal);
}
