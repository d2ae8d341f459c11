import type pg from 'pg';
import { copyFromStdin } from './copyFromStdin.ts';
import type { RowColumns } from './rowColumns.ts';
import type { ViewRow } from './types.ts';

/** Rows per COPY data message. */
const ROWS_PER_CHUNK = 1000;
const SPECIAL = /[\\\n\r\t]/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Inserts `rows` (each with every column) into `target` with one `COPY … FROM STDIN` on `client`, and
 * returns the rows it left out for the caller to upsert: those with an object or array in a column
 * that is not json/jsonb (`jsonb_to_recordset` hands the column the server's own JSON text, spaced
 * and with its key order, which COPY could only imitate). Every other value reaches the column's
 * input function as `jsonb_to_recordset` hands it over: strings as they are, numbers and booleans as
 * text, every value of a json/jsonb column as JSON, null and missing as NULL; so either path stores
 * the same row. Plain inserts: the keys must be new to `target`.
 *
 * Why COPY for a rebuild's new rows: 40,000 board rows took 0.70 s (0.49 s of Node CPU, 0.39 s of
 * server CPU) through COPY, 1.62 s (0.39 s, 1.22 s) through `jsonb_to_recordset` in statements of
 * 5,000 and 2.95 s (0.57 s, 2.51 s) as one statement (bench/projections/rebuild.ts, same run).
 */
export async function copyRows(client: pg.ClientBase, target: string, columns: RowColumns, rows: readonly ViewRow[]): Promise<ViewRow[]> {
  const json = columns.types.map((t) => t === 'json' || t === 'jsonb');
  /** The row as one line of COPY text, or null when a value is an object in a column that is not json. */
  const line = (row: ViewRow): string | null => {
    let out = '';
    for (let c = 0; c < columns.names.length; c++) {
      const value = row[columns.names[c]!];
      let text: string;
      if (value === null || value === undefined) text = '\\N'; // the NULL marker, never escaped
      else {
        if (json[c]) text = JSON.stringify(value);
        else if (typeof value === 'object') return null;
        else text = String(value);
        if (SPECIAL.test(text)) text = text.replace(/[\\\n\r\t]/g, (ch) => ESCAPES[ch]!);
      }
      out += c === 0 ? text : `\t${text}`;
    }
    return `${out}\n`;
  };
  const left: ViewRow[] = [];
  const chunks: string[] = [];
  let chunk = '';
  let lines = 0;
  for (const row of rows) {
    const text = line(row);
    if (text === null) {
      left.push(row);
      continue;
    }
    chunk += text;
    if (++lines % ROWS_PER_CHUNK === 0) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk !== '') chunks.push(chunk);
  if (chunks.length > 0) await copyFromStdin(client, `copy ${target} (${columns.list}) from stdin`, chunks);
  return left;
}
