import type { Tx } from '../db/index.ts';
import { sagaTables, type SagaTable } from './createSagaRegistry.ts';
import type { SagaInstance, SagaStatus } from './types.ts';

/** One entry of a saga's log: what produced a version of the instance (see sagaLogSchemaSql). */
export interface SagaLogEntry {
  /** The instance version this entry produced (1 = the start). */
  readonly version: number;
  /** ISO-8601 instant of the transaction that wrote it. */
  readonly at: string;
  /** `started`; `event` (an event or a deadline); a step's `succeeded`, `failed` or `retrying`. */
  readonly kind: 'started' | 'event' | 'succeeded' | 'failed' | 'retrying';
  /** The saga type (started), the event type, or the work item (`step`, or `undo:step` for a compensation). */
  readonly item: string;
  /** The attempt of a step outcome (1 = first), else null. */
  readonly attempt: number | null;
  /** The saga's status after this entry. */
  readonly status: SagaStatus;
  /** The start input, the event's data, the step's result, or `{ code }` of a failure. */
  readonly data: unknown;
  readonly error: string | null;
}

/** A deadline of a saga, open or not. */
export interface SagaDeadlineInfo {
  readonly name: string;
  readonly dueAt: string;
  readonly firedAt: string | null;
  readonly cancelledAt: string | null;
  /** Set when the handler of the fired deadline threw. */
  readonly error: string | null;
}

/** A saga instance with everything an operator needs to judge it. */
export interface SagaDetail<S = unknown> extends SagaInstance<S> {
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When the head pending item may run next (a retry's backoff). */
  readonly runAfter: string;
  /** The runner holding the head item, and until when (its lease), or null. */
  readonly lockedBy: string | null;
  readonly lockedUntil: string | null;
  /** Every version, oldest first. Empty for instances started before the log existed. */
  readonly log: readonly SagaLogEntry[];
  readonly deadlines: readonly SagaDeadlineInfo[];
}

/** A Date (a timestamptz column) as is; a string (a timestamp inside json) parsed. `String(date)` would drop the milliseconds. */
const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : iso(value));

/**
 * Reads saga `sagaId` from the saga store in `schema` with its log and deadlines, in one statement,
 * as the transaction's actor sees it (RLS: its tenant's sagas; `system` and `admin` see all), or
 * `null`. Needs no saga definitions, so tools can inspect sagas without running them. Pass
 * `tenantId` when it is known (the saga is then read through its primary key); without it the saga is
 * found by id alone, in whichever tenant the actor sees (the first started, should two share the id:
 * {@link listSagaTenants} names them all).
 *
 * @example
 * const saga = await unitOfWork(pool, { service: 'payments', actor: { kind: 'admin', id: 'cli' }, readOnly: true }, (tx) => showSaga(tx, 'payments', id));
 */
export async function showSaga<S = unknown>(tx: Tx, schema: string, sagaId: string, options: { readonly tenantId?: string } = {}): Promise<SagaDetail<S> | null> {
  const tenantId = options.tenantId;
  const { rows } = await tx.query<Record<string, unknown>>(showSagaSql(sagaTables(schema), tenantId !== undefined), tenantId !== undefined ? [sagaId, tenantId] : [sagaId]);
  const row = rows[0];
  if (row === undefined) return null;
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    name: String(row.name),
    state: row.state as S,
    version: Number(row.version),
    status: row.status as SagaStatus,
    pending: row.pending as string[],
    completed: row.completed as string[],
    failed: row.failed as string[],
    attempts: Number(row.attempts),
    error: (row.error as string | null) ?? null,
    errorBeforePark: (row.error_before_park as string | null) ?? null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    runAfter: iso(row.run_after),
    lockedBy: (row.locked_by as string | null) ?? null,
    lockedUntil: isoOrNull(row.locked_until),
    log: (row.log as Array<Record<string, unknown>>).map((l) => ({
      version: Number(l.version),
      at: iso(l.at),
      kind: l.kind as SagaLogEntry['kind'],
      item: String(l.item),
      attempt: l.attempt === null ? null : Number(l.attempt),
      status: l.status as SagaStatus,
      data: l.data ?? null,
      error: (l.error as string | null) ?? null,
    })),
    deadlines: (row.deadlines as Array<Record<string, unknown>>).map((d) => ({
      name: String(d.name),
      dueAt: iso(d.dueAt),
      firedAt: isoOrNull(d.firedAt),
      cancelledAt: isoOrNull(d.cancelledAt),
      error: (d.error as string | null) ?? null,
    })),
  };
}

/**
 * The statement of {@link showSaga} (exported for its plans' test): `$1` the saga id and, `byTenant`,
 * `$2` its tenant. With a tenant it reads through the primary key `(tenant_id, id)`, without one
 * through `saga_instances_id`; two texts, not `($2 is null or tenant_id = $2)`, which keeps the
 * tenant out of the index condition (docs/decisions/0066-saga-lookups-use-their-indexes.md).
 */
export function showSagaSql(table: (name: SagaTable) => string, byTenant: boolean): string {
  return `select i.tenant_id, i.id, i.name, i.state, i.version, i.status, i.pending, i.completed, i.failed, i.attempts, i.error, i.error_before_park,
          i.created_at, i.updated_at, i.run_after, i.locked_by, i.locked_until,
          coalesce((select json_agg(json_build_object('version', l.version, 'at', l.at, 'kind', l.kind, 'item', l.item, 'attempt', l.attempt,
                                                      'status', l.status, 'data', l.data, 'error', l.error) order by l.version)
                      from ${table('saga_log')} l where l.tenant_id = i.tenant_id and l.saga_id = i.id), '[]') as log,
          coalesce((select json_agg(json_build_object('name', d.name, 'dueAt', d.due_at, 'firedAt', d.fired_at, 'cancelledAt', d.cancelled_at,
                                                      'error', d.error) order by d.due_at, d.id)
                      from ${table('saga_deadlines')} d where d.tenant_id = i.tenant_id and d.saga_id = i.id), '[]') as deadlines
     from ${table('saga_instances')} i
    where ${byTenant ? 'i.tenant_id = $2 and i.id = $1' : 'i.id = $1'}
    order by i.created_at
    limit 1`;
}
