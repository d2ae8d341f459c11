import type { Tx } from '../db/index.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { transitionSaga } from './transitionSaga.ts';

/** One deadline a call fired. */
export interface FiredDeadline {
  readonly tenantId: string;
  readonly sagaId: string;
  readonly name: string;
  /** `false` when the saga had finished (nothing changed) or its handler threw (`error`). */
  readonly applied: boolean;
  readonly error: string | null;
}

/**
 * Claims up to `limit` due deadlines, marks them fired and delivers `deadline.<name>` to each saga,
 * all in the caller's transaction (run it as actor `system`): the mark and the saga's change commit
 * together, so a deadline fires exactly once even with several schedulers or a crash in between.
 * A handler that throws does not block the batch: its deadline is marked fired with the error.
 * Only deadlines whose tenant the registry's `claimGuard` lets through are claimed.
 */
export async function fireDueDeadlines(tx: Tx, registry: SagaRegistry, limit = 100): Promise<FiredDeadline[]> {
  const table = registry.table('saga_deadlines');
  const { rows } = await tx.query<{ tenant_id: string; id: string; saga_id: string; name: string }>(fireDueDeadlinesSql(table, registry.claimGuard('tenant_id')), [limit]);
  const fired: FiredDeadline[] = [];
  for (const d of rows) {
    await tx.query('savepoint saga_deadline');
    try {
      const result = await transitionSaga(tx, registry, d.saga_id, { kind: 'event', event: { type: `deadline.${d.name}`, data: { deadlineId: d.id } } }, { tenantId: d.tenant_id });
      await tx.query('release savepoint saga_deadline');
      fired.push({ tenantId: d.tenant_id, sagaId: d.saga_id, name: d.name, applied: result.applied, error: null });
    } catch (error) {
      await tx.query('rollback to savepoint saga_deadline');
      const message = error instanceof Error ? error.message : String(error);
      await tx.query(`update ${table} set error = $3 where tenant_id = $1 and id = $2`, [d.tenant_id, d.id, message]);
      fired.push({ tenantId: d.tenant_id, sagaId: d.saga_id, name: d.name, applied: false, error: message });
    }
  }
  return fired;
}

/**
 * The claim of {@link fireDueDeadlines}; `$1` is the batch size, `guard` the registry's `claimGuard` (exported for its plan's test).
 * SKIP LOCKED: a second scheduler takes other deadlines instead of waiting for this batch.
 * `(select clock_timestamp())`, not `clock_timestamp()`: the function is volatile, so compared
 * directly it is a filter evaluated per row, and the poll (every second) walked every open deadline,
 * due or not, in saga_deadlines_due. As an initplan it is computed once and becomes the index
 * condition `due_at <= $0`, and it still means "the moment the statement runs", not the transaction's
 * start as now() would (a caller's transaction may have begun earlier)
 * (docs/decisions/0066-saga-lookups-use-their-indexes.md).
 */
export function fireDueDeadlinesSql(table: string, guard = 'true'): string {
  return `with due as (
       select tenant_id, id from ${table}
        where fired_at is null and cancelled_at is null and due_at <= (select clock_timestamp()) and ${guard}
        order by due_at
        limit $1
        for update skip locked)
     update ${table} d set fired_at = now()
       from due
      where d.tenant_id = due.tenant_id and d.id = due.id
      returning d.tenant_id, d.id, d.saga_id, d.name`;
}
