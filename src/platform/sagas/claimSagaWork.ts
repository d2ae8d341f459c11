import type { Tx } from '../db/index.ts';
import type { SagaRegistry, SagaTable } from './createSagaRegistry.ts';
import { instanceOf, type SagaRow } from './sagaRows.ts';
import type { SagaInstance } from './types.ts';

/**
 * Claims one instance whose head work item is due, under a lease of `leaseMs` for `workerId`, or
 * returns `null`. Run it as actor `system` (it looks across tenants); only rows the registry's
 * `claimGuard` lets through are claimed. The lease does not change the version: events may still
 * advance the saga while its step runs.
 */
export async function claimSagaWork(tx: Tx, registry: SagaRegistry, workerId: string, leaseMs: number): Promise<SagaInstance | null> {
  const { rows } = await tx.query<SagaRow>(claimSagaWorkSql(registry.table, registry.claimGuard('tenant_id')), [workerId, leaseMs, registry.names]);
  return rows[0] === undefined ? null : instanceOf(rows[0]);
}

/**
 * The claim's statement (`$1` worker id, `$2` lease in ms, `$3` the saga names), with `guard` the
 * registry's claim guard on `tenant_id`. One statement: SKIP LOCKED so concurrent runners take
 * different instances (graphile-worker's getJobs); a lease rather than a transaction held open,
 * because the action is a network call that must not pin a connection, and a runner killed mid-action
 * loses its claim when the lease expires. Its conditions on `pending` and `status` are the predicate
 * of the partial index `saga_instances_runnable` (migrations `sagaRunnableIndexSql`,
 * `sagaRunnableByTypeIndexSql`), so the scan visits only claimable sagas: before, the index held
 * parked ones too, and every claim walked past each parked saga due earlier (50,000 parked: 18 ms a
 * claim). The index leads with `name`, and the claim takes the first due saga of each type it knows
 * (one lateral scan per name, each locking at most one row, which it lets go when the claim commits),
 * then the earliest of those: led by `run_after`, a claim walked past every due saga of a type no
 * runner holds any more (retired from the code, its rows left), and dropped it by its name filter
 * (3,000 retired: 3,000 rows read by every claim).
 */
export function claimSagaWorkSql(table: (name: SagaTable) => string, guard = 'true'): string {
  const instances = table('saga_instances');
  return `with next as (
       select c.tenant_id, c.id
         from unnest($3::text[]) as known (name)
        cross join lateral (
              select s.tenant_id, s.id, s.run_after from ${instances} s
               where s.name = known.name and cardinality(s.pending) > 0 and s.status in ('running', 'compensating') and s.run_after <= now()
                 and (s.locked_until is null or s.locked_until < now()) and ${guard}
               order by s.run_after
               limit 1
               for update skip locked) c
        order by c.run_after
        limit 1)
     update ${instances} i
        set locked_by = $1, locked_until = now() + $2::double precision * interval '1 millisecond'
       from next
      where i.tenant_id = next.tenant_id and i.id = next.id
      returning i.*`;
}
