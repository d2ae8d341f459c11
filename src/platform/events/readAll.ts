import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { EVENT_COLUMNS, rowToEvent, type EventRow } from './rowToEvent.ts';
import type { StoreConfig } from './storeConfig.ts';
import { START, type GlobalPosition, type RecordedEvent } from './types.ts';

/** Options for {@link readAll}. */
export interface ReadAllOptions {
  /** The checkpoint: return events after it. Default {@link START}. */
  readonly after?: GlobalPosition;
  /** At most this many events. Default 1000. */
  readonly limit?: number;
}

/** A page of the global order. */
export interface AllRead {
  readonly events: readonly RecordedEvent[];
  /** The checkpoint to store after handling `events` (the last one's position, or `after` when none). */
  readonly checkpoint: GlobalPosition;
}

const MAX_XID8 = 2n ** 64n - 1n;

/**
 * The part of a page read of the global order after the select list (decision 0011), over
 * `<events> e`, with `$1`/`$2` the checkpoint's transaction id and position and `$3` the limit (see
 * {@link pageValues}). The xmin of the statement's own snapshot is the lowest transaction id still
 * running: rows below it are final (committed and visible, or aborted and never visible).
 * pg_current_snapshot() is stable, so the bound is computed once and the scan runs on
 * events_global_order. The ORDER BY names the table's columns through the alias: select lists rename
 * them to text, and an unqualified ORDER BY would sort those texts ('10' < '6') and page past unread
 * events.
 */
export const GLOBAL_ORDER_PAGE = `where (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
        and e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      order by e.transaction_id, e.global_position
      limit $3`;

/**
 * The checked checkpoint and limit of a page read, and the values of {@link GLOBAL_ORDER_PAGE}.
 *
 * @throws {ValidationError} a limit that is not a positive integer, or a checkpoint out of range.
 */
export function pageValues(options: ReadAllOptions): { after: GlobalPosition; limit: number; values: [string, string, number] } {
  const after = options.after ?? START;
  const limit = options.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new ValidationError('limit must be a positive integer', { field: 'limit' });
  if (typeof after.transactionId !== 'bigint' || typeof after.position !== 'bigint' || after.transactionId < 0n || after.transactionId > MAX_XID8 || after.position < 0n) {
    throw new ValidationError('after must be a checkpoint of two non-negative bigints', { field: 'after' });
  }
  return { after, limit, values: [after.transactionId.toString(), after.position.toString(), limit] };
}

/**
 * Reads the global order after a checkpoint: events ordered by (transaction id, position), and only
 * those whose transaction id is below the oldest transaction still running. Every transaction that can
 * still commit events has an id at or above that bound, so a page never passes an event that commits
 * later; a rolled-back transaction stops holding the bound the moment it ends (decision 0011).
 * Which tenants' events are returned is up to RLS: the unit of work's tenant, or all of them for an
 * `admin`/`system` actor.
 *
 * @example
 * const { events, checkpoint } = await readAll(config, tx, { after: saved, limit: 500 });
 */
export async function readAll(config: StoreConfig, tx: Tx, options: ReadAllOptions = {}): Promise<AllRead> {
  const { after, values } = pageValues(options);
  const { rows } = await tx.query<EventRow>(`select ${EVENT_COLUMNS} from ${config.table} e ${GLOBAL_ORDER_PAGE}`, values);
  const events = rows.map((row) => rowToEvent(config, row));
  return { events, checkpoint: events.length === 0 ? after : events[events.length - 1]!.globalPosition };
}
