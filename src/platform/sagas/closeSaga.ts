import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { sagaTables } from './createSagaRegistry.ts';
import { lockSagaById } from './lockSagaById.ts';
import { SagaNotClosableError, SagaStepInFlightError } from './sagaErrors.ts';
import type { SagaStatus } from './types.ts';

/** What {@link closeSaga} did. */
export interface ClosedSaga {
  readonly tenantId: string;
  /** The status it had: `parked` or `failed`. */
  readonly was: SagaStatus;
  /**
   * The work it had left, which the person settled by hand: a parked saga's head and what follows it;
   * a failed one's compensation that failed for good, then the compensations behind it, in order.
   */
  readonly left: readonly string[];
  /** Its error before the close: why it was parked or failed. */
  readonly error: string | null;
}

/** Who closes a saga and why; `tenantId` when tenants share the id. */
export interface CloseSagaOptions {
  /** The person, as the log records them. */
  readonly by: string;
  /** What they did by hand, in words (required). */
  readonly reason: string;
  readonly tenantId?: string;
}

/**
 * Closes a parked or failed saga that a person has settled by hand (decision 0079): status `closed`,
 * its pending work dropped, its open deadlines cancelled, its error saying who closed it and why (and
 * what it had been), and the log records `closed` with who, why and the work that was left. A closed
 * saga is finished: it runs nothing and takes no more events, and `listSagas` no longer lists it as
 * stuck. Needs no saga definitions, so the CLI can do it.
 *
 * @returns `null` when no saga with this id is visible to the transaction's actor.
 * @throws SagaNotClosableError when the saga is neither parked nor failed; SagaStepInFlightError
 *   while a runner's lease on its head item is live; SagaIdAmbiguousError;
 *   ValidationError when `by` or `reason` is empty.
 * @example
 * await unitOfWork(pool, { service: 'payments', actor: { kind: 'admin', id: 'ana' } }, (tx) =>
 *   closeSaga(tx, 'payments', id, { by: 'ana', reason: 'refunded by hand at the provider (re_123)' }));
 */
export async function closeSaga(tx: Tx, schema: string, sagaId: string, options: CloseSagaOptions): Promise<ClosedSaga | null> {
  const reason = options.reason.trim();
  if (reason === '') throw new ValidationError('Say why the saga is closed (what was settled by hand)', { field: 'reason' });
  if (options.by.trim() === '') throw new ValidationError('Say who closes the saga', { field: 'by' });
  const saga = await lockSagaById(tx, schema, sagaId, options.tenantId);
  if (saga === null) return null;
  if (saga.status !== 'parked' && saga.status !== 'failed') throw new SagaNotClosableError(sagaId, saga.status);
  // A step still in flight may move money after the person settled it by hand ("nothing charged"):
  // the close waits until its outcome is recorded or its lease has ended.
  if (saga.leasedUntil !== null) throw new SagaStepInFlightError(sagaId, 'close', saga.pending[0], saga.leasedUntil, saga.leasedBy);
  const table = sagaTables(schema);
  const error = `Closed by ${options.by}: ${reason}. It had been ${saga.status}${saga.error === null ? '' : ` with: ${saga.error}`}`;
  // The close, its log entry and the cancelled deadlines in one statement.
  await tx.query(
    `with changed as (
       update ${table('saga_instances')}
          set status = 'closed', pending = '{}', attempts = 0, error = $3, error_before_park = null,
              locked_by = null, locked_until = null, version = version + 1, updated_at = now()
        where tenant_id = $1 and id = $2
        returning tenant_id, id, version, status),
     logged as (
       insert into ${table('saga_log')} (tenant_id, saga_id, version, kind, item, attempt, status, data, error)
       select tenant_id, id, version, 'event', 'closed', null, status, $4::jsonb, null from changed),
     cancelled as (
       update ${table('saga_deadlines')} set cancelled_at = now()
        where tenant_id = $1 and saga_id = $2 and fired_at is null and cancelled_at is null)
     select version from changed`,
    [saga.tenantId, sagaId, error, JSON.stringify({ by: options.by, reason, was: saga.status, left: saga.pending, error: saga.error })],
  );
  return { tenantId: saga.tenantId, was: saga.status, left: saga.pending, error: saga.error };
}
