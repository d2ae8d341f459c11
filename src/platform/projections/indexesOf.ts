import type pg from 'pg';

/** One index of a table, as a rebuild matches the shadow's to the live table's. */
export interface TableIndex {
  /** Its name (unquoted). */
  readonly name: string;
  /** Unique, primary, and the definition after `USING` (method, keys, INCLUDE, predicate): alike for an index and its `LIKE` copy, names aside. */
  readonly signature: string;
  /** Whether it is the table's replica identity (`REPLICA IDENTITY USING INDEX`). */
  readonly replicaIdentity: boolean;
}

/** The indexes of `table` (a qualified name). */
export async function indexesOf(client: pg.ClientBase, table: string): Promise<TableIndex[]> {
  const { rows } = await client.query<TableIndex>(
    `select c.relname as name,
            i.indisunique::text || i.indisprimary::text || split_part(pg_get_indexdef(i.indexrelid), ' USING ', 2) as signature,
            i.indisreplident as "replicaIdentity"
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = $1::regclass`,
    [table],
  );
  return rows;
}
