import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { sagaTables, type SagaTable } from './createSagaRegistry.ts';
import { DEFAULT_STEP_TIMEOUT_MS } from './stepTimeout.ts';
import type { SagaStatus } from './types.ts';

/** One saga in a list, with why it is stuck when the list asked for stuck ones. */
export interface SagaSummary {
  readonly tenantId: string;
  readonly id: string;
  readonly name: string;
  readonly status: SagaStatus;
  readonly version: number;
  readonly pending: readonly string[];
  /** Failed attempts of the head pending item. */
  readonly attempts: number;
  readonly error: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly runAfter: string;
  readonly lockedUntil: string | null;
  /** The runner that holds (or last held) the lease on the head item (`locked_by`), or null. */
  readonly lockedBy: string | null;
  /** The earliest open deadline, or null. */
  readonly nextDeadline: { readonly name: string; readonly dueAt: string } | null;
  /** Why it needs attention (only with `stuckAfterMs`), in words an operator can act on. */
  readonly stuck: string | null;
}

/** Options of {@link listSagas}. */
export interface ListSagasOptions {
  /**
   * Only the sagas that need attention: `failed` ones (a compensation failed for good: a person must
   * act on it and on the compensations left behind it, its `pending`), `parked` ones (a handler parked the saga for a person instead of compensating), and unfinished ones (running, compensating) that have not changed for longer than this.
   */
  readonly stuckAfterMs?: number;
  /** Only this status. */
  readonly status?: SagaStatus;
  /**
   * At most this many, most recently changed first (with `stuckAfterMs`, the failed and parked ones
   * first). Default 100, at most 10 001 (10 000 and one more, for a caller that asks one more than it
   * shows to tell whether the list was cut).
   */
  readonly limit?: number;
  /**
   * The saga types the store's runners hold (their registry's `names`). With `stuckAfterMs`, an
   * unfinished saga of any other type is said to be one no runner takes (a type retired from the code,
   * or a runner deployed without it) instead of blaming a runner that is not running. Default: unchecked.
   */
  readonly knownTypes?: readonly string[];
}

/** The largest limit {@link listSagas} takes. */
const MAX_LIMIT = 10_001;

const STATUSES: readonly SagaStatus[] = ['running', 'completed', 'compensating', 'compensated', 'failed', 'parked', 'closed'];

/**
 * Lists sagas of the saga store in `schema` as the transaction's actor sees them (run it as `admin`
 * or `system` to see every tenant's), most recently changed first; with `stuckAfterMs`, only those
 * that need attention, each with the reason, the failed and parked ones first (so that a limit cuts
 * the running ones that merely waited long, not them). Needs no saga definitions.
 *
 * A running saga that waits for an outside event (a payment waiting for the delivery) also stops
 * changing: choose `stuckAfterMs` above the longest legitimate wait.
 *
 * @example
 * const stuck = await listSagas(tx, 'payments', { stuckAfterMs: 15 * 60_000 });
 */
export async function listSagas(tx: Tx, schema: string, options: ListSagasOptions = {}): Promise<SagaSummary[]> {
  const table = sagaTables(schema);
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ValidationError(`limit must be an integer from 1 to ${MAX_LIMIT}`, { field: 'limit' });
  if (options.status !== undefined && !STATUSES.includes(options.status)) throw new ValidationError(`status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
  const stuckAfterMs = options.stuckAfterMs ?? null;
  if (stuckAfterMs !== null && !(Number.isFinite(stuckAfterMs) && stuckAfterMs >= 0)) throw new ValidationError('stuckAfterMs must be a number of ms, 0 or more', { field: 'stuckAfterMs' });
  const { rows } = await tx.query<Record<string, unknown>>(listSagasSql(table), [options.status ?? null, stuckAfterMs, limit]);
  return rows.map((row) => {
    const nextDeadline = row.next_deadline as { name: string; dueAt: string } | null;
    const summary = {
      tenantId: String(row.tenant_id),
      id: String(row.id),
      name: String(row.name),
      status: row.status as SagaStatus,
      version: Number(row.version),
      pending: row.pending as string[],
      attempts: Number(row.attempts),
      error: (row.error as string | null) ?? null,
      createdAt: (row.created_at as Date).toISOString(),
      updatedAt: (row.updated_at as Date).toISOString(),
      runAfter: (row.run_after as Date).toISOString(),
      lockedUntil: row.locked_until === null ? null : (row.locked_until as Date).toISOString(),
      lockedBy: (row.locked_by as string | null) ?? null,
      nextDeadline: nextDeadline === null ? null : { name: nextDeadline.name, dueAt: new Date(nextDeadline.dueAt).toISOString() },
    };
    return { ...summary, stuck: stuckAfterMs === null ? null : whyStuck(summary, row.leased === true, row.backing_off === true, options.knownTypes) };
  });
}

/**
 * The statement of {@link listSagas} (exported for its plans' test): `$1` a status or null, `$2` the
 * stuck age in ms or null, `$3` the limit. With `$2`, every status it lists is in the predicate of
 * the partial index `saga_instances_unfinished` (payments migration 0015), so the stuck list walks
 * that index by `updated_at` instead of reading every finished saga.
 *
 * With `$2`, the failed and parked sagas come first, then the unfinished ones unchanged that long,
 * each group most recently changed first. Sorted by the last change alone, the payment sagas of
 * orders in transit (running, waiting for OrderDelivered, unchanged for longer than the threshold:
 * normal) filled the limit, and the parked and failed ones, older as a rule, fell below the cut. Two
 * branches, each cut at the limit on its own walk of the index, then merged and cut again: the
 * alternative, one `order by (status in ('failed', 'parked')) desc, updated_at desc`, cannot take its
 * order from the index and sorts every unfinished saga past the threshold to return the first few.
 * Without `$2` the first branch is empty and the list is by last change, whatever the status.
 */
export function listSagasSql(table: (name: SagaTable) => string): string {
  const columns = 'i.tenant_id, i.id, i.name, i.status, i.version, i.pending, i.attempts, i.error, i.created_at, i.updated_at, i.run_after, i.locked_until, i.locked_by';
  return `select ${columns},
            i.locked_until > now() as leased, i.run_after > now() as backing_off, now() as now,
            (select json_build_object('name', d.name, 'dueAt', d.due_at) from ${table('saga_deadlines')} d
              where d.tenant_id = i.tenant_id and d.saga_id = i.id and d.fired_at is null and d.cancelled_at is null
              order by d.due_at limit 1) as next_deadline
       from ((select ${columns} from ${table('saga_instances')} i
               where $2::double precision is not null and i.status in ('failed', 'parked') and ($1::text is null or i.status = $1)
               order by i.updated_at desc, i.id
               limit $3)
             union all
             (select ${columns} from ${table('saga_instances')} i
               where ($1::text is null or i.status = $1)
                 and ($2::double precision is null
                      or (i.status in ('running', 'compensating') and i.updated_at < now() - $2::double precision * interval '1 millisecond'))
               order by i.updated_at desc, i.id
               limit $3)) i
      order by ($2::double precision is not null and i.status in ('failed', 'parked')) desc, i.updated_at desc, i.id
      limit $3`;
}

/** The reason a listed saga needs attention, naming what to do. */
function whyStuck(s: Omit<SagaSummary, 'stuck'>, leased: boolean, backingOff: boolean, knownTypes?: readonly string[]): string {
  if (s.status === 'failed') {
    // What is left: the failed compensation and those behind it (a saga failed before they were kept has none).
    const left = s.pending.length === 0 ? '' : `: ${s.pending.join(', ')}${s.pending.length > 1 ? ', in that order' : ''}, by hand`;
    // Or only the failed one by hand: the saga runs the rest once told so (settleSagaCompensation).
    const head = s.pending[0];
    const orSettle = head?.startsWith('undo:') === true ? `; or settle ${head} by hand and 'brigade sagas resume ${s.id} --settled …' ${s.pending.length > 1 ? 'runs the rest' : 'ends it'}` : '';
    return `failed: ${s.error ?? 'unknown error'}; a compensation failed for good, so a person must put things right${left} (the saga will not retry), then close it ('brigade sagas close ${s.id} --reason …')${orSettle}`;
  }
  if (s.status === 'parked') return `parked with ${s.pending.join(', ') || 'nothing'} left: ${s.error ?? 'no reason given'} (the saga will not go on by itself)`;
  // Claims and deadline firings take only the types a runner's registry holds (in SQL): a saga of any
  // other type waits for ever, and "is the saga runner running?" sent the operator to one that was.
  if (knownTypes !== undefined && !knownTypes.includes(s.name)) {
    return (
      `saga type ${s.name} is held by no runner of this release (${knownTypes.join(', ') || 'none'}): a type retired from the code, or a runner deployed without it; ` +
      `nothing runs its steps (${s.pending.join(', ') || 'none pending'}) or delivers its deadlines. Deploy a release that registers ${s.name} to finish it, ` +
      `or settle by hand what it did (its log: 'brigade sagas show ${s.id}')`
    );
  }
  const head = s.pending[0];
  if (head === undefined) {
    const waiting = s.nextDeadline === null ? 'no open deadline' : `deadline ${s.nextDeadline.name} due ${s.nextDeadline.dueAt}`;
    return `waiting for an event since ${s.updatedAt} (${waiting}); check that its events are still being delivered`;
  }
  if (leased) {
    // A live runner renews its lease while the step runs, up to the step's timeout; one that is hung
    // renews it, or not, for ever: the way out is to restart it, which only its name tells where.
    return (
      `${head} is running on runner ${s.lockedBy ?? '?'} (attempt ${s.attempts + 1}, lease until ${s.lockedUntil}); a step this slow may be hanging on what it calls. ` +
      `Its runner gives up at the step's timeout (timeoutMs, ${DEFAULT_STEP_TIMEOUT_MS / 60_000} minutes by default) and retries it; if the lease keeps moving past that, that runner is hung: restart the process it names`
    );
  }
  if (backingOff) return `${head} failed ${s.attempts} time(s) and retries at ${s.runAfter}; check the service it calls`;
  return `${head} has been due since ${s.runAfter} and no runner took it; is the saga runner (brigade worker) running?`;
}
