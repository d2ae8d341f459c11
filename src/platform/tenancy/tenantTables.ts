import type pg from 'pg';

/** A table that holds tenant rows: it has a `tenant_id` column. */
export interface TenantTable {
  readonly schema: string;
  readonly name: string;
  /** `"schema"."name"`, escaped. */
  readonly qualified: string;
  /** Insertable columns (generated ones left out), escaped, in order. */
  readonly columns: readonly string[];
  /** Has a `GENERATED ALWAYS AS IDENTITY` column (inserts need OVERRIDING SYSTEM VALUE). */
  readonly identityAlways: boolean;
  /**
   * Columns (escaped) of type `xid8`: transaction ids of the server that wrote the row (an event's
   * `transaction_id`, a view row's `last_transaction_id`), which mean nothing on another server.
   */
  readonly transactionIdColumns: readonly string[];
  /** Columns (escaped) that draw from a sequence (identity or serial), each with its sequence (qualified, escaped). */
  readonly sequences: ReadonlyArray<{ readonly column: string; readonly sequence: string }>;
}

/**
 * Every table with a `tenant_id` column in `schemas`, ordered so that a table comes after the
 * tables it references (copy in this order, delete in reverse). Read from the catalog, so a table
 * a later migration adds is covered without anyone listing it.
 */
export async function tenantTables(db: Pick<pg.ClientBase, 'query' | 'escapeIdentifier'>, schemas: readonly string[]): Promise<TenantTable[]> {
  const tables = (
    await db.query<{ oid: number; schema: string; name: string; columns: string[]; identity_always: boolean; xid8: string[] | null; sequences: Array<{ column: string; sequence: string }> | null }>(
      `select c.oid::int, n.nspname as schema, c.relname as name,
              array_agg(a.attname::text order by a.attnum) filter (where a.attgenerated = '') as columns,
              bool_or(a.attidentity = 'a') as identity_always,
              array_agg(a.attname::text order by a.attnum) filter (where a.atttypid = 'xid8'::regtype) as xid8,
              json_agg(json_build_object('column', a.attname, 'sequence', pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)) order by a.attnum)
                filter (where pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) is not null) as sequences
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relkind in ('r', 'p') and n.nspname = any($1::text[])
          and exists (select 1 from pg_attribute t where t.attrelid = c.oid and t.attname = 'tenant_id' and not t.attisdropped)
        group by c.oid, n.nspname, c.relname
        order by n.nspname, c.relname`,
      [schemas],
    )
  ).rows;
  const edges = (
    await db.query<{ child: number; parent: number }>(
      `select conrelid::int as child, confrelid::int as parent from pg_constraint
        where contype = 'f' and conrelid = any($1::oid[]) and confrelid = any($1::oid[]) and conrelid <> confrelid`,
      [tables.map((t) => t.oid)],
    )
  ).rows;
  // Kahn's topological sort; a cycle (not expected) keeps catalog order for the rest.
  const ordered: typeof tables = [];
  const remaining = new Set(tables.map((t) => t.oid));
  while (remaining.size > 0) {
    const ready = tables.filter((t) => remaining.has(t.oid) && !edges.some((e) => e.child === t.oid && remaining.has(e.parent)));
    const batch = ready.length > 0 ? ready : tables.filter((t) => remaining.has(t.oid));
    for (const t of batch) {
      ordered.push(t);
      remaining.delete(t.oid);
    }
  }
  return ordered.map((t) => ({
    schema: t.schema,
    name: t.name,
    qualified: `${db.escapeIdentifier(t.schema)}.${db.escapeIdentifier(t.name)}`,
    columns: t.columns.map((c) => db.escapeIdentifier(c)),
    identityAlways: t.identity_always,
    transactionIdColumns: (t.xid8 ?? []).map((c) => db.escapeIdentifier(c)),
    sequences: (t.sequences ?? []).map((s) => ({ column: db.escapeIdentifier(s.column), sequence: s.sequence })),
  }));
}
