import type { Tx } from '../db/index.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';

/**
 * Extends `workerId`'s lease on a saga's head item to `leaseMs` from now, while its step runs; returns
 * whether the lease was still that runner's (a person's close or resume, or another runner after an
 * expiry, may have taken the item meanwhile: nothing is extended then).
 */
export async function renewSagaLease(tx: Tx, registry: SagaRegistry, input: { tenantId: string; sagaId: string; workerId: string; leaseMs: number }): Promise<boolean> {
  const { rowCount } = await tx.query(
    `update ${registry.table('saga_instances')} set locked_until = now() + $4::double precision * interval '1 millisecond'
      where tenant_id = $1 and id = $2 and locked_by = $3`,
    [input.tenantId, input.sagaId, input.workerId, input.leaseMs],
  );
  return (rowCount ?? 0) > 0;
}
