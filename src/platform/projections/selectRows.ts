import type { Tx } from '../db/index.ts';
import type { RowColumns } from './rowColumns.ts';

/**
 * The rows of `target` with the given keys (each key's values in key-column order), as `to_jsonb`
 * gives them. One statement for all keys, one primary-key lookup per key whatever the table's size:
 * the lateral subquery (kept apart by `offset 0`) rules out the hash join over a scan of the whole
 * table that the planner takes for `(key) in (select …)` while the table is small or not analysed.
 */
export async function selectRows(tx: Tx, target: string, columns: RowColumns, keys: ReadonlyArray<readonly string[]>): Promise<Record<string, unknown>[]> {
  if (keys.length === 0) return [];
  const records = keys.map((values) => Object.fromEntries(columns.key.map((k, i) => [k, values[i]])));
  const { rows } = await tx.query<{ row: Record<string, unknown> }>(selectRowsSql(target, columns), [JSON.stringify(records)]);
  return rows.map((r) => r.row);
}

/** The statement of {@link selectRows}; `$1` is a JSON array of key objects (exported for its plan's test). */
export function selectRowsSql(target: string, columns: RowColumns): string {
  return `select to_jsonb(t) as row from jsonb_to_recordset($1::jsonb) as k(${columns.keyRecord})
      cross join lateral (select * from ${target} v where ${columns.keyMatch} offset 0) t`;
}
