import type { Tx } from '../db/index.ts';
import type { RowColumns } from './rowColumns.ts';
import type { ViewRow } from './types.ts';

/** Rows per statement: large enough to amortise the round trip, small enough to parse quickly. */
const ROWS_PER_STATEMENT = 5000;

/**
 * Writes `rows` (each with every column, `last_transaction_id`/`last_position` included) to `target`:
 * inserts new keys, and updates an existing row only when it is at an older position, so a replayed
 * or rewound batch never moves a row back. Returns nothing: the caller has the rows it sent, and
 * reading them back (`returning to_jsonb`) cost the server and Node more than the write's checks.
 */
export async function upsertRows(tx: Tx, target: string, columns: RowColumns, rows: readonly ViewRow[]): Promise<void> {
  for (let from = 0; from < rows.length; from += ROWS_PER_STATEMENT) {
    await tx.query(
      `insert into ${target} as t (${columns.list})
       select ${columns.list} from jsonb_to_recordset($1::jsonb) as r(${columns.record})
       on conflict (${columns.keyList}) do update set ${columns.updateSet}
        where (t.last_transaction_id, t.last_position) < (excluded.last_transaction_id, excluded.last_position)`,
      [JSON.stringify(from === 0 && rows.length <= ROWS_PER_STATEMENT ? rows : rows.slice(from, from + ROWS_PER_STATEMENT))],
    );
  }
}
