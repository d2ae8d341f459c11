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
  const after = options.after ?? START;
  const limit = options.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new ValidationError('limit must be a positive integer', { field: 'limit' });
  if (typeof after.transactionId !== 'bigint' || typeof after.position !== 'bigint' || after.transactionId < 0n || after.transactionId > MAX_XID8 || after.position < 0n) {
    throw new ValidationError('after must be a checkpoint of two non-negative bigints', { field: 'after' });
  }
  // The xmin of the statement's own snapshot: the lowest transaction id still running. Rows below it
  // are final (committed and visible, or aborted and never visible). pg_current_snapshot() is stable,
  // so the bound is computed once and the scan runs on events_global_order. The ORDER BY names the
  // table's columns through the alias: the select list renames them to text, and an unqualified
  // ORDER BY would sort those texts ('10' < '6') and page past unread events.
  const { rows } = await tx.query<EventRow>(
    `select ${EVENT_COLUMNS} from ${config.table} e
      where (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
        and e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      order by e.transaction_id, e.global_position
      limit $3`,
    [after.transactionId.toString(), after.position.toString(), limit],
  );
  const events = rows.map((row) => rowToEvent(config, row));
  return { events, checkpoint: events.length === 0 ? after : events[events.length - 1]!.globalPosition };
}
