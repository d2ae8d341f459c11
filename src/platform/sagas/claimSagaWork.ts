import type { Tx } from '../db/index.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { instanceOf, type SagaRow } from './sagaRows.ts';
import type { SagaInstance } from './types.ts';

/**
 * Claims one instance whose head work item is due, under a lease of `leaseMs` for `workerId`, or
 * returns `null`. Run it as actor `system` (it looks across tenants); only rows the registry's
 * `claimGuard` lets through are claimed. The lease does not change the version: events may still
 * advance the saga while its step runs.
 */
export async function claimSagaWork(tx: Tx, registry: SagaRegistry, workerId: string, leaseMs: number): Promise<SagaInstance | null> {
  const table = registry.table('saga_instances');
  // One statement: SKIP LOCKED so concurrent runners take different instances (graphile-worker's
  // getJobs); a lease rather than a transaction held open, because the action is a network call that
  // must not pin a connection, and a runner killed mid-action loses its claim when the lease expires.
  const { rows } = await tx.query<SagaRow>(
    `with next as (
       select tenant_id, id from ${table}
        where cardinality(pending) > 0 and status in ('running', 'compensating') and run_after <= now()
          and (locked_until is null or locked_until < now()) and name = any($3::text[]) and ${registry.claimGuard('tenant_id')}
        order by run_after
        limit 1
        for update skip locked)
     update ${table} i
        set locked_by = $1, locked_until = now() + $2::double precision * interval '1 millisecond'
       from next
      where i.tenant_id = next.tenant_id and i.id = next.id
      returning i.*`,
    [workerId, leaseMs, registry.names],
  );
  return rows[0] === undefined ? null : instanceOf(rows[0]);
}
