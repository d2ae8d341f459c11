import pg from 'pg';
import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import type { RecordedEvent } from '../events/index.ts';
import { defineProjection, type ProjectionOptions } from './defineProjection.ts';
import type { ApplyContext, Projection, ViewRow } from './types.ts';

/** A view row in JSON form (what `to_jsonb(row)` gives): column name → JSON value. */
export type RowState = Record<string, unknown>;

/** Options of {@link defineRowProjection}. */
export interface RowProjectionOptions extends Omit<ProjectionOptions, 'apply'> {
  /**
   * Every column the projection writes with its SQL type, key columns and `last_transaction_id` /
   * `last_position` excluded from neither: e.g. `{ tenant_id: 'uuid', order_id: 'uuid', status: 'text', … }`.
   * `last_transaction_id xid8` and `last_position bigint` are added by the helper.
   */
  readonly columns: Readonly<Record<string, string>>;
  /** The primary-key columns, e.g. `['tenant_id', 'order_id']`. */
  readonly key: readonly string[];
  /** The key values (in `key` order) of the row an event shapes, or `null` when it shapes none. */
  readonly keyOf: (event: RecordedEvent) => readonly string[] | null;
  /**
   * The pure fold: the row after `event`, from the row before it (`null` when there is none yet).
   * Return `undefined` for "no change". Keep every field a pure function of the events (timestamps
   * from the events, never `now()`), so a rebuild gives the same rows.
   */
  readonly evolve: (row: RowState | null, event: RecordedEvent) => RowState | undefined;
}

/** A projection built from a pure per-row fold, plus that fold for tests and tools. */
export interface RowProjection extends Projection {
  /** Folds `events` in memory from nothing: key (joined with `|`) → row. */
  fold(events: readonly RecordedEvent[]): Map<string, RowState>;
}

/** A rebuild remembers up to this many rows between batches (about 1 KB each). */
const MAX_REMEMBERED_ROWS = 500_000;
const POSITION_COLUMNS = { last_transaction_id: 'xid8', last_position: 'bigint' } as const;
const TYPE = /^[a-z][a-z0-9_ ]*(\[\])?$/;

/**
 * A projection of "one row per key" (per order, per courier…) from a pure fold. Its `apply` is
 * idempotent per event and set-based: per batch one SELECT loads the rows the batch touches, the fold
 * runs in memory, skipping every event at or below the row's last position, and one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE row is older` writes each changed row once. Replays,
 * redeliveries and a rewound checkpoint therefore never apply an event twice.
 *
 * @example
 * const board = defineRowProjection({ name: 'board', service: 'ordering', schema: 'ordering', table: 'board_view', store,
 *   columns: { tenant_id: 'uuid', order_id: 'uuid', status: 'text' }, key: ['tenant_id', 'order_id'],
 *   keyOf: (e) => [e.metadata.tenantId, (e.data as { orderId: string }).orderId],
 *   evolve: (row, e) => (e.type === 'OrderPlaced' ? { tenant_id: e.metadata.tenantId, order_id: …, status: 'placed' } : …) });
 */
export function defineRowProjection(options: RowProjectionOptions): RowProjection {
  const columns: Record<string, string> = { ...options.columns, ...POSITION_COLUMNS };
  for (const [column, type] of Object.entries(columns)) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(column) || !TYPE.test(type)) throw new ValidationError(`column ${column} needs a plain name and SQL type`, { field: 'columns' });
  }
  if (options.key.length === 0 || options.key.some((k) => columns[k] === undefined)) throw new ValidationError('key must name columns', { field: 'key' });
  const names = Object.keys(columns);
  const esc = (c: string) => pg.escapeIdentifier(c);
  const recordType = (cols: readonly string[]) => cols.map((c) => `${esc(c)} ${columns[c]}`).join(', ');
  const keyList = options.key.map(esc).join(', ');
  const updatable = names.filter((c) => !options.key.includes(c));

  const keyString = (values: readonly string[]) => values.join('|');
  const newer = (event: RecordedEvent, row: RowState) => {
    const tx = BigInt(String(row.last_transaction_id));
    const pos = BigInt(String(row.last_position));
    const at = event.globalPosition;
    return at.transactionId > tx || (at.transactionId === tx && at.position > pos);
  };
  const step = (row: RowState | null, event: RecordedEvent): RowState | undefined => {
    if (row !== null && !newer(event, row)) return undefined;
    const next = options.evolve(row, event);
    if (next === undefined) return undefined;
    return { ...next, last_transaction_id: event.globalPosition.transactionId.toString(), last_position: event.globalPosition.position.toString() };
  };

  const apply = async (tx: Tx, events: readonly RecordedEvent[], target: string, context?: ApplyContext): Promise<readonly ViewRow[]> => {
    const keyed: Array<{ key: string; values: readonly string[]; event: RecordedEvent }> = [];
    const touched = new Map<string, readonly string[]>();
    for (const event of events) {
      const values = options.keyOf(event);
      if (values === null) continue;
      const key = keyString(values);
      keyed.push({ key, values, event });
      touched.set(key, values);
    }
    if (keyed.length === 0) return [];
    const state = new Map<string, RowState | null>();
    const missing: Array<readonly string[]> = [];
    for (const [key, values] of touched) {
      const known = context?.rows.get(key) as RowState | undefined;
      if (known !== undefined) state.set(key, known);
      else if (context?.complete !== true) missing.push(values);
    }
    if (missing.length > 0) {
      // One read of every row the batch touches (through the primary key), instead of one per event.
      const keys = missing.map((v) => Object.fromEntries(options.key.map((k, i) => [k, v[i]])));
      const { rows } = await tx.query<{ row: RowState }>(
        `select to_jsonb(t) as row from ${target} t
          where (${options.key.map((k) => `t.${esc(k)}`).join(', ')}) in (select ${keyList} from jsonb_to_recordset($1::jsonb) as k(${recordType(options.key)}))`,
        [JSON.stringify(keys)],
      );
      for (const { row } of rows) state.set(keyString(options.key.map((k) => String(row[k]))), row);
    }
    const changed = new Set<string>();
    for (const { key, event } of keyed) {
      const next = step(state.get(key) ?? null, event);
      if (next === undefined) continue;
      state.set(key, next);
      changed.add(key);
    }
    if (changed.size === 0) return [];
    const out = [...changed].map((k) => state.get(k)!);
    if (context !== undefined) {
      for (const k of changed) context.rows.set(k, state.get(k));
      // Past this many remembered rows, forget them and read misses from the table again.
      if (context.rows.size > MAX_REMEMBERED_ROWS) {
        context.rows.clear();
        context.complete = false;
      }
    }
    const returning = context === undefined || context.returnRows;
    // One statement for the batch; the WHERE keeps a row that is already at a newer position (a
    // concurrent writer cannot exist under the checkpoint lock, but a rewound replay can).
    const written = await tx.query<{ row: ViewRow }>(
      `insert into ${target} as t (${names.map(esc).join(', ')})
       select ${names.map(esc).join(', ')} from jsonb_to_recordset($1::jsonb) as r(${recordType(names)})
       on conflict (${keyList}) do update set ${updatable.map((c) => `${esc(c)} = excluded.${esc(c)}`).join(', ')}
        where (t.last_transaction_id, t.last_position) < (excluded.last_transaction_id, excluded.last_position)
       ${returning ? 'returning to_jsonb(t) as row' : ''}`,
      [JSON.stringify(out)],
    );
    return written.rows.map((r) => r.row);
  };

  const projection = defineProjection({ ...options, apply });
  return Object.freeze({
    ...projection,
    fold(events: readonly RecordedEvent[]) {
      const state = new Map<string, RowState>();
      for (const event of events) {
        if (projection.eventTypes !== undefined && !projection.eventTypes.has(event.type)) continue;
        const values = options.keyOf(event);
        if (values === null) continue;
        const key = keyString(values);
        const next = step(state.get(key) ?? null, event);
        if (next !== undefined) state.set(key, next);
      }
      return state;
    },
  });
}
