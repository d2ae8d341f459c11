import type { Tx } from '../db/index.ts';
import type { SagaTransition } from './applySagaEvent.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';

/** Stores the deadlines a transition scheduled and cancels those it cancelled, in the caller's transaction. */
export async function writeDeadlines(tx: Tx, registry: SagaRegistry, tenantId: string, sagaId: string, transition: SagaTransition<unknown>): Promise<void> {
  const table = registry.table('saga_deadlines');
  const cancelAll = transition.cancel === 'all';
  const names = cancelAll ? [] : [...(transition.cancel as readonly string[])];
  if (cancelAll || names.length > 0) {
    await tx.query(
      `update ${table} set cancelled_at = now()
        where tenant_id = $1 and saga_id = $2 and fired_at is null and cancelled_at is null and ($3 or name = any($4::text[]))`,
      [tenantId, sagaId, cancelAll, names],
    );
  }
  for (const d of transition.schedule) {
    // Never before now: a deadline asked for at an instant already past (one that runs from when its
    // cause happened, after a backlog) is due at once, and says when it was scheduled.
    await tx.query(
      `insert into ${table} (tenant_id, saga_id, name, due_at)
       values ($1, $2, $3, greatest(coalesce($4::timestamptz, now() + $5::double precision * interval '1 millisecond'), now()))`,
      [tenantId, sagaId, d.name, d.at ?? null, d.at === undefined ? (d.inMs ?? 0) : 0],
    );
  }
}
