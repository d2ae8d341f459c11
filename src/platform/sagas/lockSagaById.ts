import type { Tx } from '../db/index.ts';
import { sagaTables } from './createSagaRegistry.ts';
import { SagaIdAmbiguousError } from './sagaErrors.ts';
import type { SagaStatus } from './types.ts';

/** The fields of a saga that a person's command (resume, close) decides on. */
export interface LockedSaga {
  readonly tenantId: string;
  readonly status: SagaStatus;
  readonly pending: readonly string[];
  readonly error: string | null;
  /** While parked: the error it had before the park. */
  readonly errorBeforePark: string | null;
  /** When a runner's lease on its head item ends, while that lease is live (its step may be in flight); else `null`. */
  readonly leasedUntil: Date | null;
  /** The runner holding that live lease (`locked_by`); else `null`. */
  readonly leasedBy: string | null;
}

/**
 * Reads saga `sagaId` of the saga store in `schema` and locks its row for the caller's transaction
 * (`FOR UPDATE`: a concurrent transition waits, then finds the version changed and decides again), as
 * the transaction's actor sees it: in `tenantId` when given, else by id alone.
 *
 * @returns `null` when no such saga is visible.
 * @throws SagaIdAmbiguousError when several tenants have a saga with this id and no tenant was given.
 */
export async function lockSagaById(tx: Tx, schema: string, sagaId: string, tenantId?: string): Promise<LockedSaga | null> {
  const table = sagaTables(schema)('saga_instances');
  // The lease is compared with the database's clock, the one the runner's lease was taken with.
  const columns = `tenant_id, status, pending, error, error_before_park, case when locked_until > now() then locked_until end as leased_until, case when locked_until > now() then locked_by end as leased_by`;
  const { rows } = await tx.query<{ tenant_id: string; status: SagaStatus; pending: string[]; error: string | null; error_before_park: string | null; leased_until: Date | null; leased_by: string | null }>(
    tenantId === undefined
      ? `select ${columns} from ${table} where id = $1 for update`
      : `select ${columns} from ${table} where tenant_id = $2 and id = $1 for update`,
    tenantId === undefined ? [sagaId] : [sagaId, tenantId],
  );
  if (rows.length > 1) throw new SagaIdAmbiguousError(sagaId, rows.map((r) => r.tenant_id));
  const row = rows[0];
  return row === undefined
    ? null
    : { tenantId: row.tenant_id, status: row.status, pending: row.pending, error: row.error, errorBeforePark: row.error_before_park, leasedUntil: row.leased_until, leasedBy: row.leased_by };
}
