import pg from 'pg';
import { ValidationError } from '../errors/index.ts';

/** The SQL pieces of a row projection's table, checked and escaped once (internal). */
export interface RowColumns {
  /** Every column name, unescaped. */
  readonly names: readonly string[];
  /** The SQL type of each column, in `names` order. */
  readonly types: readonly string[];
  /** The key column names, unescaped. */
  readonly key: readonly string[];
  /** `"a", "b", …`: every column. */
  readonly list: string;
  /** `"a" uuid, "b" text, …`: every column with its type, for `jsonb_to_recordset`. */
  readonly record: string;
  /** `"tenant_id", "order_id"`: the key columns. */
  readonly keyList: string;
  /** `v."tenant_id" = k."tenant_id" and v."order_id" = k."order_id"`: a table row `v` has key `k`. */
  readonly keyMatch: string;
  /** The key columns with their types. */
  readonly keyRecord: string;
  /** `"status" = excluded."status", …`: every non-key column. */
  readonly updateSet: string;
}

const COLUMN = /^[a-z_][a-z0-9_]{0,62}$/;
const TYPE = /^[a-z][a-z0-9_ ]*(\[\])?$/;

/**
 * Checks a row projection's columns (plain names, plain SQL types) and key, and builds the SQL pieces
 * its statements share.
 *
 * @throws {ValidationError} a column name or type that is not plain, or a key that names no column.
 */
export function rowColumns(columns: Readonly<Record<string, string>>, key: readonly string[]): RowColumns {
  for (const [column, type] of Object.entries(columns)) {
    if (!COLUMN.test(column) || !TYPE.test(type)) throw new ValidationError(`column ${column} needs a plain name and SQL type`, { field: 'columns' });
  }
  if (key.length === 0 || key.some((k) => columns[k] === undefined)) throw new ValidationError('key must name columns', { field: 'key' });
  const esc = (c: string) => pg.escapeIdentifier(c);
  const typed = (cols: readonly string[]) => cols.map((c) => `${esc(c)} ${columns[c]}`).join(', ');
  const names = Object.keys(columns);
  return Object.freeze({
    names,
    types: names.map((c) => columns[c]!),
    key: [...key],
    list: names.map(esc).join(', '),
    record: typed(names),
    keyList: key.map(esc).join(', '),
    keyMatch: key.map((k) => `v.${esc(k)} = k.${esc(k)}`).join(' and '),
    keyRecord: typed(key),
    updateSet: names
      .filter((c) => !key.includes(c))
      .map((c) => `${esc(c)} = excluded.${esc(c)}`)
      .join(', '),
  });
}
