import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { UNDO } from './applySagaEvent.ts';
import { sagaTables } from './createSagaRegistry.ts';
import { lockSagaById } from './lockSagaById.ts';
import { SagaHeadNotCompensationError, SagaNotSettleableError, SagaStepInFlightError } from './sagaErrors.ts';
import type { SagaStatus } from './types.ts';

/** What {@link settleSagaCompensation} did. */
export interface SettledSaga {
  readonly tenantId: string;
  /** The status it had: `failed` or `parked`. */
  readonly was: SagaStatus;
  /** The compensation the person settled by hand (the head it had), which will not run. */
  readonly settledItem: string;
  /** The status it has now: `compensating` with work left, else `compensated`. */
  readonly status: SagaStatus;
  /** The compensations that run now, in order (none when the settled one was the last). */
  readonly pending: readonly string[];
  /** Its error before: why it failed or was parked. */
  readonly error: string | null;
}

/** Who settled the head compensation and what they did; `tenantId` when tenants share the id. */
export interface SettleSagaCompensationOptions {
  /** The person, as the log records them. */
  readonly by: string;
  /** What they did by hand in place of the compensation, in words (required): `refunded re_123 at the provider`. */
  readonly settled: string;
  readonly tenantId?: string;
}

/**
 * A person settled by hand the compensation at the head of a saga's pending work (a refund the
 * provider refused for good, done in its dashboard instead); the saga goes on with the compensations
 * behind it. Without this, a compensation that failed for good left every compensation behind it to
 * the person as well (decision 0046, "Fixed later"): a failed saga runs nothing, and a resume would run
 * the failed compensation again under its key.
 *
 * Takes a `failed` saga, or a `parked` one whose head is a compensation (the runner parks one whose
 * outcome it could not record). The head is dropped without running (its key is never used again by
 * the saga), and the saga goes `compensating` with the rest due at once, attempts from zero, as a
 * resume leaves it; with nothing behind the head it ends `compensated`. Its error keeps why it failed,
 * less the `left: …` list a failed compensation added, plus who settled what: a compensation that
 * fails later builds on it. The log records `settled` with who, what they did, the item, the status it
 * had, what was left and the error it had. Needs no saga definitions, so the CLI can do it; the
 * service's runner picks the rest up on its next poll.
 *
 * @returns `null` when no saga with this id is visible to the transaction's actor.
 * @throws SagaNotSettleableError when the saga is neither failed nor parked;
 *   SagaHeadNotCompensationError when the head of its pending work is a forward step (its outcome is
 *   needed: resume or close instead) or there is none; SagaStepInFlightError while a runner's lease on
 *   its head item is live; SagaIdAmbiguousError; ValidationError when `by` or `settled` is empty.
 * @example
 * await unitOfWork(pool, { service: 'payments', actor: { kind: 'admin', id: 'ana' } }, (tx) =>
 *   settleSagaCompensation(tx, 'payments', id, { by: 'ana', settled: 'refunded by hand at the provider (re_123)' }));
 */
export async function settleSagaCompensation(tx: Tx, schema: string, sagaId: string, options: SettleSagaCompensationOptions): Promise<SettledSaga | null> {
  const settled = options.settled.trim();
  if (settled === '') throw new ValidationError('Say what was settled by hand in place of the compensation', { field: 'settled' });
  if (options.by.trim() === '') throw new ValidationError('Say who settled it', { field: 'by' });
  const saga = await lockSagaById(tx, schema, sagaId, options.tenantId);
  if (saga === null) return null;
  if (saga.status !== 'failed' && saga.status !== 'parked') throw new SagaNotSettleableError(sagaId, saga.status);
  const [head, ...rest] = saga.pending;
  // A forward step cannot be skipped: the saga decides from its outcome (its result, whether to undo it).
  if (head === undefined || !head.startsWith(UNDO)) throw new SagaHeadNotCompensationError(sagaId, saga.status, head);
  // A runner may still be running the compensation (a lease that outlived a park): settling it by hand
  // beside it would do it twice. Only an ended lease is cleared below.
  if (saga.leasedUntil !== null) throw new SagaStepInFlightError(sagaId, 'resume', head, saga.leasedUntil, saga.leasedBy);
  const status: SagaStatus = rest.length === 0 ? 'compensated' : 'compensating';
  // Why it failed: a failed saga's error, or a parked one's from before the park. The `; left: …` that a
  // compensation failing for good appended named this very pending list, which is no longer what is left.
  const failure = saga.status === 'parked' ? saga.errorBeforePark : saga.error;
  const leftSuffix = `; left: ${saga.pending.join(', ')}`;
  const why = failure === null ? null : failure.endsWith(leftSuffix) ? failure.slice(0, -leftSuffix.length) : failure;
  const error = `${why ?? 'failed'}; ${head} settled by hand by ${options.by}: ${settled}`;
  const table = sagaTables(schema);
  // The settle and its log entry in one statement.
  await tx.query(
    `with changed as (
       update ${table('saga_instances')}
          set status = $3, pending = $4::text[], attempts = 0, error = $5, error_before_park = null, run_after = now(),
              locked_by = null, locked_until = null, version = version + 1, updated_at = now()
        where tenant_id = $1 and id = $2
        returning tenant_id, id, version, status)
     insert into ${table('saga_log')} (tenant_id, saga_id, version, kind, item, attempt, status, data, error)
     select tenant_id, id, version, 'event', 'settled', null, status, $6::jsonb, null from changed`,
    [saga.tenantId, sagaId, status, rest, error, JSON.stringify({ by: options.by, settled, item: head, was: saga.status, left: rest, error: saga.error })],
  );
  return { tenantId: saga.tenantId, was: saga.status, settledItem: head, status, pending: rest, error: saga.error };
}
