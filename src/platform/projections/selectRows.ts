import type { Tx } from '../db/index.ts';
import type { RowColumns } from './rowColumns.ts';

/**
 * The rows of `target` with the given keys (each key's values in key-column order), as `to_jsonb`
 * gives them. One statement for all keys, through the primary key.
 */
export async function selectRows(tx: Tx, target: string, columns: RowColumns, keys: ReadonlyArray<readonly string[]>): Promise<Record<string, unknown>[]> {
  if (keys.length === 0) return [];
  const records = keys.map((values) => Object.fromEntries(columns.key.map((k, i) => [k, values[i]])));
  const { rows } = await tx.query<{ row: Record<string, unknown> }>(
    `select to_jsonb(t) as row from ${target} t
      where (${columns.keyListOfT}) in (select ${columns.keyList} from jsonb_to_recordset($1::jsonb) as k(${columns.keyRecord}))`,
    [JSON.stringify(records)],
  );
  return rows.map((r) => r.row);
}
