import pg from 'pg';
import type { Tx } from '../db/index.ts';
import type { SagaRegistry, SagaTable } from './createSagaRegistry.ts';
import { SagaDefinitionError, SagaEventUnhandledError, SagaHandlerError, SagaNotFoundError, SagaTypeNotRegisteredError } from './sagaErrors.ts';
import { transitionSaga } from './transitionSaga.ts';

/** One deadline a call fired. */
export interface FiredDeadline {
  readonly tenantId: string;
  readonly sagaId: string;
  readonly name: string;
  /** `false` when the saga had finished (nothing changed) or the deadline could never be delivered (`error`). */
  readonly applied: boolean;
  readonly error: string | null;
}

/**
 * Claims up to `limit` due deadlines, marks them fired and delivers `deadline.<name>` to each saga,
 * all in the caller's transaction (run it as actor `system`): the mark and the saga's change commit
 * together, so a deadline fires exactly once even with several schedulers or a crash in between.
 * A deadline that can never be delivered (its handler throws or returns a state JSON cannot hold, the saga has no handler for it, its
 * decision is inconsistent, PostgreSQL refuses the data) does not block the batch: it is marked fired
 * with the error. Anything else (a deadlock, a serialization failure, a lost connection, a saga that
 * kept changing) passes: it is thrown, the batch rolls back, and its deadlines fire at a later poll.
 * The claim locks each deadline's saga row with it (SKIP LOCKED), so a transition that holds the saga
 * row and then cancels its deadlines never waits on this batch while it waits on them (a deadlock).
 * Only deadlines of the registry's saga types (`registry.names`, as the runner's claim) whose tenant
 * the registry's `claimGuard` lets through are claimed: a scheduler whose registry lacks a type (a
 * rolling deploy, two registries on one schema) leaves its deadlines to one that has it; should one
 * be delivered anyway, its `SagaTypeNotRegisteredError` leaves it unfired, out of the result. Before,
 * such a scheduler claimed them, failed to deliver them ("No saga type … is registered"), and marked
 * them fired with that error, so the saga never got its deadline.
 */
export async function fireDueDeadlines(tx: Tx, registry: SagaRegistry, limit = 100): Promise<FiredDeadline[]> {
  const table = registry.table('saga_deadlines');
  const { rows } = await tx.query<{ tenant_id: string; id: string; saga_id: string; name: string }>(fireDueDeadlinesSql(registry.table, registry.claimGuard('d.tenant_id')), [limit, registry.names]);
  const fired: FiredDeadline[] = [];
  for (const d of rows) {
    await tx.query('savepoint saga_deadline');
    try {
      const result = await transitionSaga(tx, registry, d.saga_id, { kind: 'event', event: { type: `deadline.${d.name}`, data: { deadlineId: d.id } } }, { tenantId: d.tenant_id });
      await tx.query('release savepoint saga_deadline');
      fired.push({ tenantId: d.tenant_id, sagaId: d.saga_id, name: d.name, applied: result.applied, error: null });
    } catch (error) {
      if (error instanceof SagaTypeNotRegisteredError) {
        // Not this registry's saga (the claim should not have taken it): unfired again, for a scheduler that knows the type.
        await tx.query('rollback to savepoint saga_deadline');
        await tx.query(`update ${table} set fired_at = null where tenant_id = $1 and id = $2`, [d.tenant_id, d.id]);
        continue;
      }
      // Before, every error was taken as the handler's: a deadlock marked the deadline fired, never delivered.
      if (!undeliverable(error)) throw error;
      await tx.query('rollback to savepoint saga_deadline');
      const message = error instanceof Error ? error.message : String(error);
      await tx.query(`update ${table} set error = $3 where tenant_id = $1 and id = $2`, [d.tenant_id, d.id, message]);
      fired.push({ tenantId: d.tenant_id, sagaId: d.saga_id, name: d.name, applied: false, error: message });
    }
  }
  return fired;
}

/**
 * A delivery that fails the same way however often it is tried: the saga's definition, or data
 * PostgreSQL refuses (SQLSTATE class 22, 23). A saga type the registry lacks
 * (`SagaTypeNotRegisteredError`) is not (another scheduler may know it): the caller leaves that
 * deadline unfired; the claim does not take such deadlines in the first place.
 */
function undeliverable(error: unknown): boolean {
  if (error instanceof SagaHandlerError || error instanceof SagaDefinitionError || error instanceof SagaEventUnhandledError || error instanceof SagaNotFoundError) return true;
  return error instanceof pg.DatabaseError && /^2[23]/.test(error.code ?? '');
}

/**
 * The claim of {@link fireDueDeadlines}; `$1` is the batch size, `$2` the registry's saga names,
 * `guard` the registry's `claimGuard` on `d.tenant_id` (exported for its plan's test).
 * SKIP LOCKED: a second scheduler takes other deadlines instead of waiting for this batch. The saga
 * row is locked with its deadline, before the deliveries: a transition locks the saga row, then the
 * deadlines it cancels, so a batch that locked the deadlines first and then waited for the saga row
 * deadlocked with it; a deadline whose saga is being changed is now left for the next poll.
 * `(select clock_timestamp())`, not `clock_timestamp()`: the function is volatile, so compared
 * directly it is a filter evaluated per row, and the poll (every second) walked every open deadline,
 * due or not, in saga_deadlines_due. As an initplan it is computed once and becomes the index
 * condition `due_at <= $0`, and it still means "the moment the statement runs", not the transaction's
 * start as now() would (a caller's transaction may have begun earlier)
 * (docs/decisions/0066-saga-lookups-use-their-indexes.md).
 */
export function fireDueDeadlinesSql(table: (name: SagaTable) => string, guard = 'true'): string {
  return `with due as (
       select d.tenant_id, d.id from ${table('saga_deadlines')} d
         join ${table('saga_instances')} i on i.tenant_id = d.tenant_id and i.id = d.saga_id
        where d.fired_at is null and d.cancelled_at is null and d.due_at <= (select clock_timestamp()) and i.name = any($2::text[]) and ${guard}
        order by d.due_at
        limit $1
        for update of d, i skip locked)
     update ${table('saga_deadlines')} d set fired_at = now()
       from due
      where d.tenant_id = due.tenant_id and d.id = due.id
      returning d.tenant_id, d.id, d.saga_id, d.name`;
}
