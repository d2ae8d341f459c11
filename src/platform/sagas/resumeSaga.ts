import type { Tx } from '../db/index.ts';
import { BrigadeError } from '../errors/index.ts';
import { sagaTables } from './createSagaRegistry.ts';
import { UNDO } from './applySagaEvent.ts';
import type { SagaStatus } from './types.ts';

/** 409: only a parked saga can be resumed. */
export class SagaNotParkedError extends BrigadeError {
  constructor(sagaId: string, status: SagaStatus) {
    super(
      'SAGA_NOT_PARKED',
      409,
      `Saga ${sagaId} is ${status}, not parked: only a saga parked for a person can be resumed. 'brigade sagas show ${sagaId}' shows what it is doing`,
      { details: { sagaId, status } },
    );
  }
}

/** What {@link resumeSaga} did. */
export interface ResumedSaga {
  readonly tenantId: string;
  readonly status: SagaStatus;
  /** The work that will run again, head first. */
  readonly pending: readonly string[];
  /** The reason it had been parked with. */
  readonly parkedWith: string | null;
}

/**
 * Resumes a saga that a handler parked for a person (decision 0079), once that person has settled
 * what made it stop: it goes back to `running`, or to `compensating` when any pending item is a
 * compensation (a forward step may be kept at the head of one), with the error it had before the
 * park (why it failed, which a failed compensation's message builds on); its head work item runs
 * again at once with its attempts counted from zero, and the log records the
 * resume with who did it and the reason it had been parked with. What the saga took while parked
 * (events and deadlines, which a park leaves open) is in its state and pending work, so the resumed
 * steps act on it. Needs no saga definitions, so the CLI can do it; the service's runner picks the
 * work up on its next poll.
 *
 * @returns `null` when no saga with this id is visible to the transaction's actor.
 * @throws SagaNotParkedError when the saga is not parked.
 * @example
 * await unitOfWork(pool, { service: 'payments', actor: { kind: 'admin', id: 'ops' } }, (tx) => resumeSaga(tx, 'payments', id, 'ops'));
 */
export async function resumeSaga(tx: Tx, schema: string, sagaId: string, by: string): Promise<ResumedSaga | null> {
  const table = sagaTables(schema);
  const { rows } = await tx.query<{ tenant_id: string; status: SagaStatus; pending: string[]; parked_with: string | null; resumed: boolean }>(
    `with found as (
       select tenant_id, id, status, error from ${table('saga_instances')} where id = $1 order by created_at limit 1 for update),
     changed as (
       update ${table('saga_instances')} i
          set status = case when exists (select from unnest(i.pending) p where p like $3) then 'compensating' else 'running' end,
              attempts = 0, error = i.error_before_park, error_before_park = null, run_after = now(), locked_by = null, locked_until = null,
              version = i.version + 1, updated_at = now()
         from found
        where i.tenant_id = found.tenant_id and i.id = found.id and found.status = 'parked'
        returning i.tenant_id, i.id, i.version, i.status, i.pending, found.error as parked_with),
     logged as (
       insert into ${table('saga_log')} (tenant_id, saga_id, version, kind, item, attempt, status, data, error)
       select tenant_id, id, version, 'event', 'resumed', null, status, jsonb_build_object('by', $2::text, 'parkedWith', parked_with), null from changed)
     select f.tenant_id, coalesce(c.status, f.status) as status, coalesce(c.pending, '{}') as pending, f.error as parked_with, c.id is not null as resumed
       from found f left join changed c on true`,
    [sagaId, by, `${UNDO}%`],
  );
  const row = rows[0];
  if (row === undefined) return null;
  if (!row.resumed) throw new SagaNotParkedError(sagaId, row.status);
  return { tenantId: row.tenant_id, status: row.status, pending: row.pending, parkedWith: row.parked_with };
}
