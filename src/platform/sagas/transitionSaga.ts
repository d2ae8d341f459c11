import type { Tx } from '../db/index.ts';
import { ConcurrencyError } from '../errors/index.ts';
import { applySagaEvent, isActive, type SagaInput } from './applySagaEvent.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { SagaNotFoundError } from './sagaErrors.ts';
import { instanceOf, type SagaRow } from './sagaRows.ts';
import { announceDueStep } from './sagaWork.ts';
import type { SagaInstance } from './types.ts';
import { writeDeadlines } from './writeDeadlines.ts';

/** Options of {@link transitionSaga}. */
export interface TransitionOptions {
  /**
   * The saga's tenant. Pass it whenever it is known: the read then goes through the primary key. Without
   * it the read goes by id alone (the index `saga_instances_id`) and finds the saga in whichever tenant
   * the transaction sees (`system` and `admin` see every tenant).
   */
  readonly tenantId?: string;
  /** Retries after a version conflict before giving up with ConcurrencyError. Default 5. */
  readonly maxRetries?: number;
  /** When the head work item may run next (a retry's backoff). Default now. */
  readonly delayMs?: number;
  /** Release this runner's lease with the write, or alone when the input no longer applies (a stale outcome). */
  readonly releaseLeaseOf?: string;
}

/** The outcome of one transition. */
export interface TransitionResult<S> {
  /** `false` when the input no longer applied (finished saga, stale step outcome); `instance` is then the current one. */
  readonly applied: boolean;
  readonly instance: SagaInstance<S>;
  /** Reads it took: 1 without a conflict, 2 after one conflicting concurrent write, … */
  readonly attempts: number;
}

/**
 * Reads the instance, decides (applySagaEvent), and writes the result only where the version is
 * still the one read. A concurrent writer that committed in between makes the write match no row:
 * the instance is read again (READ COMMITTED sees the committed row; the UPDATE waited for it) and
 * the input decided again on the new state, up to `maxRetries` times.
 */
export async function transitionSaga<S = unknown>(tx: Tx, registry: SagaRegistry, sagaId: string, input: SagaInput, options: TransitionOptions = {}): Promise<TransitionResult<S>> {
  const table = registry.table('saga_instances');
  const maxRetries = options.maxRetries ?? 5;
  const tenantId = options.tenantId;
  let seen: number | null = null;
  for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
    const { rows } = await tx.query<SagaRow>(selectSagaSql(table, tenantId !== undefined), tenantId !== undefined ? [sagaId, tenantId] : [sagaId]);
    const row = rows[0];
    if (row === undefined) throw new SagaNotFoundError(sagaId);
    seen = row.version;
    const instance = instanceOf<S>(row);
    const t = applySagaEvent(registry.definition(row.name), instance as SagaInstance<unknown>, input);
    if (t === null) {
      // A stale outcome (another runner claimed the item after this one's lease lapsed, and its outcome
      // came first) writes nothing, but the lease it names is released all the same. Before, it stayed:
      // the next step waited up to the lease's length, and a resume or close was refused as in flight.
      // Only this runner's lease: one another runner took since is left to it.
      if (options.releaseLeaseOf !== undefined) {
        await tx.query(`update ${table} set locked_by = null, locked_until = null where tenant_id = $1 and id = $2 and locked_by = $3`, [row.tenant_id, row.id, options.releaseLeaseOf]);
      }
      return { applied: false, instance, attempts: attempt };
    }
    const entry = logEntryOf(input, row.attempts);
    // An event that leaves the head item as it was keeps its run_after: a step backing off after a
    // retryable failure stays backed off (before, any event made it due at once, and during a
    // provider's outage each event burned an attempt). Step outcomes and a new head reset it.
    const keepRunAfter = input.kind === 'event' && t.pending[0] === row.pending[0];
    // The log row is inserted by the same statement as the version it records: one round trip, and
    // no version without its entry (the log's primary key is the version).
    const updated = await tx.query<SagaRow>(
      `with changed as (
         update ${table}
            set state = $4::jsonb, status = $5, pending = $6::text[], completed = $7::text[], failed = $19::text[], attempts = $8, error = $9, error_before_park = $17,
                run_after = case when $18 then run_after else now() + $10::double precision * interval '1 millisecond' end,
                locked_by = case when locked_by = $11 then null else locked_by end,
                locked_until = case when locked_by = $11 then null else locked_until end,
                version = version + 1, updated_at = now()
          where tenant_id = $1 and id = $2 and version = $3
          returning *),
       logged as (
         insert into ${registry.table('saga_log')} (tenant_id, saga_id, version, kind, item, attempt, status, data, error)
         select tenant_id, id, version, $12, $13, $14, status, $15::jsonb, $16 from changed)
       select * from changed`,
      [
        row.tenant_id, row.id, row.version, JSON.stringify(t.state), t.status, t.pending, t.completed, t.attempts, t.error, options.delayMs ?? 0, options.releaseLeaseOf ?? null,
        entry.kind, entry.item, entry.attempt, entry.data === undefined ? null : JSON.stringify(entry.data), entry.error, t.errorBeforePark, keepRunAfter, t.failed,
      ],
    );
    if (updated.rows[0] !== undefined) {
      await writeDeadlines(tx, registry, row.tenant_id, row.id, t);
      // A step due now wakes an idle runner once this commits; a runner that made the transition goes on itself.
      if (t.pending.length > 0 && isActive(t.status) && (options.delayMs ?? 0) <= 0 && options.releaseLeaseOf === undefined) {
        announceDueStep(tx, registry);
      }
      return { applied: true, instance: instanceOf<S>(updated.rows[0]), attempts: attempt };
    }
  }
  throw new ConcurrencyError(seen ?? 0, null, `Saga ${sagaId} kept changing under ${maxRetries + 1} attempts to advance it`);
}

/**
 * The statement that reads the instance to transition (exported for its plans' test): with a tenant
 * (`$2`), through the primary key `(tenant_id, id)`; without one, through `saga_instances_id`. Two
 * statement texts rather than `($2 is null or tenant_id = $2)`: that form leaves the tenant out of
 * the index condition, so without a tenant, or in the generic plan of a prepared statement, the read
 * scanned every tenant's instances (docs/decisions/0066-saga-lookups-use-their-indexes.md).
 */
export function selectSagaSql(table: string, byTenant: boolean): string {
  return byTenant ? `select * from ${table} where tenant_id = $2 and id = $1` : `select * from ${table} where id = $1`;
}

/** What the saga log records about one input (see sagaLogSchemaSql). */
export interface SagaLogInput {
  readonly kind: 'started' | 'event' | 'succeeded' | 'failed' | 'retrying';
  readonly item: string;
  readonly attempt: number | null;
  readonly data: unknown;
  readonly error: string | null;
}

/** The log entry of an input; `failures` is the instance's failed attempts of its head item so far. */
function logEntryOf(input: SagaInput, failures: number): SagaLogInput {
  if (input.kind === 'event') return { kind: 'event', item: input.event.type, attempt: null, data: input.event.data ?? null, error: null };
  if (input.kind === 'stepSucceeded') return { kind: 'succeeded', item: input.item, attempt: failures + 1, data: input.result ?? null, error: null };
  if (input.kind === 'park') return { kind: 'failed', item: input.item, attempt: failures + 1, data: { code: 'SAGA_OUTCOME_UNRECORDED' }, error: input.reason };
  return { kind: input.retry ? 'retrying' : 'failed', item: input.item, attempt: failures + 1, data: { code: input.error.code }, error: input.error.message };
}
