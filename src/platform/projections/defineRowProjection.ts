import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import type { FoldEvent } from '../events/index.ts';
import { defineProjection, type ProjectionOptions } from './defineProjection.ts';
import { copyRows } from './copyRows.ts';
import { rowColumns } from './rowColumns.ts';
import { selectRows } from './selectRows.ts';
import type { FoldProjection, ProjectionReplay, ReplayRows, ViewRow } from './types.ts';
import { upsertRows } from './upsertRows.ts';

/** A view row in JSON form (what `to_jsonb(row)` gives): column name → JSON value. */
export type RowState = Record<string, unknown>;

/** Options of {@link defineRowProjection}. */
export interface RowProjectionOptions extends Omit<ProjectionOptions, 'apply' | 'replay'> {
  /**
   * Every column the projection writes with its SQL type, the key columns included, e.g.
   * `{ tenant_id: 'uuid', order_id: 'uuid', status: 'text', … }`. Leave out `last_transaction_id` and
   * `last_position`: the helper adds them (xid8, bigint).
   */
  readonly columns: Readonly<Record<string, string>>;
  /** The primary-key columns, e.g. `['tenant_id', 'order_id']`. */
  readonly key: readonly string[];
  /**
   * The key values (in `key` order) of the row an event shapes, or `null` when it shapes none. Each
   * as PostgreSQL prints the column (lower-case uuids): rows read back are matched by that text.
   */
  readonly keyOf: (event: FoldEvent) => readonly string[] | null;
  /**
   * The pure fold: the row after `event`, from the row before it (`null` when there is none yet), as a
   * NEW object (the helper sets `last_transaction_id` and `last_position` on it; never change `row`).
   * Return `undefined` for "no change". Keep every field a pure function of the events (timestamps
   * from the events, never `now()`), so a rebuild gives the same rows.
   */
  readonly evolve: (row: RowState | null, event: FoldEvent) => RowState | undefined;
  /**
   * Whether `event` starts its row afresh: `evolve(row, event)` gives the same for any `row`, `null`
   * included (an order's OrderPlaced, the first event of its stream). A batch whose first event for a
   * key starts the row does not look that row up: the fold runs from nothing, and the write's position
   * guard keeps a stored row that is already newer. Default: no event starts a row.
   */
  readonly startsRow?: (event: FoldEvent) => boolean;
}

/** A projection built from a pure per-row fold, plus that fold for tests and tools. */
export interface RowProjection extends FoldProjection {
  /** Folds `events` in memory from nothing: key (its values joined with NUL, which no text column holds) → row. */
  fold(events: readonly FoldEvent[]): Map<string, RowState>;
  replay(): ProjectionReplay;
}

const POSITION_COLUMNS = { last_transaction_id: 'xid8', last_position: 'bigint' } as const;

/**
 * A projection of "one row per key" (per order, per courier…) from a pure fold. Its `apply` is
 * idempotent per event and set-based: per batch one SELECT loads the rows the batch touches, the fold
 * runs in memory, skipping every event at or below the row's last position, and one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE row is older` writes each changed row once. Replays,
 * redeliveries and a rewound checkpoint therefore never apply an event twice. The fold sees only
 * {@link FoldEvent}s (`reads: 'fold'`), so live batches read only the log's fold columns. Its `replay`
 * (for rebuilds) keeps the rows in memory across pages and writes them when asked.
 *
 * @example
 * const board = defineRowProjection({ name: 'board', service: 'ordering', schema: 'ordering', table: 'board_view', store,
 *   columns: { tenant_id: 'uuid', order_id: 'uuid', status: 'text' }, key: ['tenant_id', 'order_id'],
 *   keyOf: (e) => [e.metadata.tenantId, (e.data as { orderId: string }).orderId],
 *   evolve: (row, e) => (e.type === 'OrderPlaced' ? { tenant_id: e.metadata.tenantId, order_id: …, status: 'placed' } : …) });
 */
export function defineRowProjection(options: RowProjectionOptions): RowProjection {
  const columns = rowColumns({ ...options.columns, ...POSITION_COLUMNS }, options.key);
  const types = options.eventTypes === undefined ? undefined : new Set(options.eventTypes);
  // Joined with NUL: PostgreSQL text never holds one, so two different keys never join the same.
  const keyString = (values: readonly string[]) => (values.length === 2 ? `${values[0]}\u0000${values[1]}` : values.join('\u0000'));
  // Events come in runs of one transaction: its id is turned into text once per run, not per event.
  let lastTransactionId: bigint | undefined;
  let lastTransactionIdText = '';

  /** The row after `event`, or undefined when the event is not newer than the row or changes nothing. */
  const step = (row: RowState | null, event: FoldEvent): RowState | undefined => {
    if (event.globalPosition.transactionId !== lastTransactionId) {
      lastTransactionId = event.globalPosition.transactionId;
      lastTransactionIdText = lastTransactionId.toString();
    }
    const transactionId = lastTransactionIdText;
    const position = event.globalPosition.position.toString();
    if (row !== null && !isAfter(transactionId, position, String(row.last_transaction_id), String(row.last_position))) return undefined;
    const next = options.evolve(row, event);
    if (next === undefined) return undefined;
    // Set on evolve's new object rather than spread into another: one object per event, not two.
    const stepped = next === row ? { ...next } : next;
    stepped.last_transaction_id = transactionId;
    stepped.last_position = position;
    return stepped;
  };

  /** Each event's row key (its key values joined), or null for an event that shapes no row. */
  const keysOf = (events: readonly FoldEvent[]): Array<string | null> =>
    events.map((event) => {
      if (types !== undefined && !types.has(event.type)) return null;
      const values = options.keyOf(event);
      return values === null ? null : keyString(values);
    });

  /**
   * Folds `events` into `rows` (key → row) and records every row it changes in `changed`, which stays
   * ordered from the least to the most recently changed.
   */
  const foldInto = (rows: Map<string, RowState>, changed: Map<string, RowState>, events: readonly FoldEvent[], keys: ReadonlyArray<string | null> = keysOf(events)) => {
    for (let i = 0; i < events.length; i++) {
      const key = keys[i]!;
      if (key === null) continue;
      const event = events[i]!;
      const next = step(rows.get(key) ?? null, event);
      if (next === undefined) continue;
      rows.set(key, next);
      changed.delete(key);
      changed.set(key, next);
    }
  };

  const startsRow = options.startsRow;
  /**
   * Reads into `rows` the rows of `target` that `events` touch and `rows` lacks, except those whose
   * first event here starts the row (`startsRow`): the fold needs no row before it.
   */
  const load = async (tx: Tx, target: string, events: readonly FoldEvent[], rows: Map<string, RowState>, keys: ReadonlyArray<string | null> = keysOf(events)) => {
    const missing = new Map<string, FoldEvent | null>();
    for (let i = 0; i < events.length; i++) {
      const key = keys[i]!;
      if (key === null || missing.has(key) || rows.has(key)) continue;
      const event = events[i]!;
      missing.set(key, startsRow !== undefined && startsRow(event) ? null : event);
    }
    const lookups: Array<readonly string[]> = [];
    for (const event of missing.values()) if (event !== null) lookups.push(options.keyOf(event)!);
    for (const row of await selectRows(tx, target, columns, lookups)) {
      const key = keyString(options.key.map((k) => String(row[k])));
      // A row found under a key keyOf spells otherwise (an upper-case uuid) would be folded as new.
      if (!missing.has(key)) throw new ValidationError(`keyOf of projection ${options.name} gave a key the database spells otherwise (it holds ${JSON.stringify(options.key.map((k) => String(row[k])))}): return each key column's text as PostgreSQL prints it, e.g. lower-case uuids`, { field: 'keyOf' });
      rows.set(key, row);
    }
  };

  const apply = async (tx: Tx, events: readonly FoldEvent[], target: string): Promise<readonly ViewRow[]> => {
    const rows = new Map<string, RowState>();
    const keys = keysOf(events);
    await load(tx, target, events, rows, keys);
    const changed = new Map<string, RowState>();
    foldInto(rows, changed, events, keys);
    if (changed.size === 0) return [];
    const written = [...changed.values()];
    await upsertRows(tx, target, columns, written);
    return written;
  };

  const replay = (): ProjectionReplay => {
    const rows = new Map<string, RowState>();
    const changed = new Map<string, RowState>();
    /** Keys taken while complete: in the target (or about to be); any other key is new to it. */
    const taken = new Set<string>();
    let complete = true;
    return {
      get size() {
        return rows.size;
      },
      get pending() {
        return changed.size;
      },
      get complete() {
        return complete;
      },
      load: (tx, events, target) => (complete ? Promise.resolve() : load(tx, target, events, rows)),
      fold: (events) => foldInto(rows, changed, events),
      take(max = Infinity): ReplayRows {
        const fresh: RowState[] = [];
        const rewritten: RowState[] = [];
        for (const [key, row] of changed) {
          if (fresh.length + rewritten.length >= max) break;
          changed.delete(key);
          if (complete && !taken.has(key)) {
            taken.add(key);
            fresh.push(row);
          } else rewritten.push(row);
        }
        return { fresh, rewritten };
      },
      async write(tx, target, { fresh, rewritten }, copyClient) {
        if (copyClient === undefined) {
          await upsertRows(tx, target, columns, [...fresh, ...rewritten]);
          return;
        }
        const left = await copyRows(copyClient, target, columns, fresh);
        await upsertRows(tx, target, columns, left.length === 0 ? rewritten : [...left, ...rewritten]);
      },
      forget() {
        rows.clear();
        taken.clear();
        complete = false;
      },
    };
  };

  const projection = defineProjection({ ...options, apply, replay });
  return Object.freeze({
    ...projection,
    reads: 'fold' as const,
    apply,
    replay,
    fold(events: readonly FoldEvent[]) {
      const rows = new Map<string, RowState>();
      foldInto(rows, new Map(), events);
      return rows;
    },
  });
}

/**
 * Whether position (transactionId, position) comes after (lastTransactionId, lastPosition), all four
 * canonical decimal texts (no sign, no leading zeros): a longer text is a larger number, texts of one
 * length compare like the numbers. Spares two BigInt parses per event in the fold.
 */
function isAfter(transactionId: string, position: string, lastTransactionId: string, lastPosition: string): boolean {
  if (transactionId !== lastTransactionId) return transactionId.length !== lastTransactionId.length ? transactionId.length > lastTransactionId.length : transactionId > lastTransactionId;
  return position.length !== lastPosition.length ? position.length > lastPosition.length : position > lastPosition;
}
