import type { Tx } from '../db/index.ts';
import { sagaTables } from './createSagaRegistry.ts';

/**
 * The tenants that have a saga with id `sagaId` in the saga store in `schema`, as the transaction's
 * actor sees them (RLS: its own tenant's; `admin` and `system` see all), first started first; `[]`
 * when none. An id is unique only within its tenant: a tool that finds a saga by id alone (the CLI's
 * resume and close) asks this rather than {@link showSaga}, which returns one saga, so that an id
 * two tenants share is refused for want of a tenant (`SagaIdAmbiguousError`) instead of acting on
 * the first one started. Reads through the index `saga_instances_id` (decision 0066).
 *
 * @example
 * const tenants = await unitOfWork(pool, { service: 'payments', actor: { kind: 'admin', id: 'cli' }, readOnly: true }, (tx) => listSagaTenants(tx, 'payments', id));
 */
export async function listSagaTenants(tx: Tx, schema: string, sagaId: string): Promise<string[]> {
  const { rows } = await tx.query<{ tenant_id: string }>(listSagaTenantsSql(sagaTables(schema)('saga_instances')), [sagaId]);
  return rows.map((r) => r.tenant_id);
}

/** The statement of {@link listSagaTenants} on `table` (`<schema>.saga_instances`), `$1` the saga id (exported for its plan's test). */
export function listSagaTenantsSql(table: string): string {
  return `select tenant_id from ${table} where id = $1 order by created_at, tenant_id`;
}
