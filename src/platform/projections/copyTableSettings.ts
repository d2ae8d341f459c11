import pg from 'pg';
import { indexesOf } from './indexesOf.ts';

/** The column options (`attoptions`) a rebuild copies: the planner's overrides. Others (an extension's) are left alone. */
const COLUMN_OPTIONS = ['n_distinct', 'n_distinct_inherited'];

/** How `attstorage` is spelled in `ALTER COLUMN … SET STORAGE`. */
const STORAGE: Readonly<Record<string, string>> = { p: 'plain', e: 'external', m: 'main', x: 'extended' };
/** How `attcompression` is spelled in `ALTER COLUMN … SET COMPRESSION` (`''`: the server's default). */
const COMPRESSION: Readonly<Record<string, string>> = { '': 'default', p: 'pglz', l: 'lz4' };
/** How `relreplident` is spelled in `REPLICA IDENTITY` (`i`, an index, is named). */
const REPLICA_IDENTITY: Readonly<Record<string, string>> = { d: 'default', f: 'full', n: 'nothing' };

/**
 * Gives the shadow table `shadow` the settings of the table `live` (both qualified names) that
 * `LIKE … INCLUDING ALL` does not copy, or copied only as they were when the shadow was made: the
 * storage parameters (`fillfactor`, `autovacuum_*`, …, the TOAST table's `toast.*` too), the table's
 * comment, its replica identity (`USING INDEX` names the shadow's copy of the live index), and per
 * column the statistics target, `n_distinct` overrides, comment, storage and compression. What the
 * shadow has of them and the live table has not is reset. Runs on `client` in the caller's
 * transaction, as the shadow's owner: when the shadow is made (so that the replay's writes honour a
 * fillfactor), and in the swap with the live table locked (so that a change made meanwhile is kept).
 * Columns the shadow lacks are left out (the swap refuses a shadow whose columns differ). Names and
 * values come from the catalog, quoted as identifiers and literals.
 */
export async function copyTableSettings(client: pg.ClientBase, live: string, shadow: string): Promise<void> {
  const esc = pg.escapeIdentifier;
  const lit = pg.escapeLiteral;
  const statements: string[] = [];

  const tables = await client.query<{ options: string[] | null; toast: string[] | null; comment: string | null; identity: string }>(
    `select c.reloptions as options, t.reloptions as toast, obj_description(c.oid, 'pg_class') as comment, c.relreplident::text as identity
       from unnest(array[$1::regclass, $2::regclass]) with ordinality r(oid, n)
       join pg_class c on c.oid = r.oid left join pg_class t on t.oid = c.reltoastrelid
      order by r.n`,
    [live, shadow],
  );
  const from = tables.rows[0]!;
  const to = tables.rows[1]!;
  /** `name=value` items (reloptions, attoptions) as a map, names prefixed (`toast.`). */
  const parse = (items: readonly string[] | null, prefix = '') => new Map((items ?? []).map((item) => [prefix + item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)] as const));
  /** An option's name as SQL: `fillfactor` → `"fillfactor"`, `toast.x` → `toast."x"`. */
  const optionName = (name: string) => (name.startsWith('toast.') ? `toast.${esc(name.slice('toast.'.length))}` : esc(name));
  /** `… reset (…)` and `… set (…)` after `alter` (`alter table t`, `alter table t alter column c`) to go from the options `have` to `want`. */
  const optionChanges = (alter: string, have: Map<string, string>, want: Map<string, string>) => {
    const reset = [...have.keys()].filter((name) => !want.has(name));
    const set = [...want].filter(([name, value]) => have.get(name) !== value);
    if (reset.length > 0) statements.push(`${alter} reset (${reset.map(optionName).join(', ')})`);
    if (set.length > 0) statements.push(`${alter} set (${set.map(([name, value]) => `${optionName(name)} = ${lit(value)}`).join(', ')})`);
  };

  optionChanges(`alter table ${shadow}`, new Map([...parse(to.options), ...parse(to.toast, 'toast.')]), new Map([...parse(from.options), ...parse(from.toast, 'toast.')]));
  if (from.comment !== to.comment) statements.push(`comment on table ${shadow} is ${from.comment === null ? 'null' : lit(from.comment)}`);

  const columns = await client.query<{ name: string; target: number; shadowTarget: number; options: string[] | null; shadowOptions: string[] | null; comment: string | null; shadowComment: string | null; storage: string; shadowStorage: string; compression: string; shadowCompression: string }>(
    `select l.attname::text as name, coalesce(l.attstattarget, -1)::int as target, coalesce(s.attstattarget, -1)::int as "shadowTarget",
            array(select o from unnest(l.attoptions) o where split_part(o, '=', 1) = any($3)) as options,
            array(select o from unnest(s.attoptions) o where split_part(o, '=', 1) = any($3)) as "shadowOptions",
            col_description(l.attrelid, l.attnum) as comment, col_description(s.attrelid, s.attnum) as "shadowComment",
            l.attstorage::text as storage, s.attstorage::text as "shadowStorage", l.attcompression::text as compression, s.attcompression::text as "shadowCompression"
       from pg_attribute l join pg_attribute s on s.attrelid = $2::regclass and s.attname = l.attname and s.attnum > 0 and not s.attisdropped
      where l.attrelid = $1::regclass and l.attnum > 0 and not l.attisdropped
      order by l.attnum`,
    [live, shadow, COLUMN_OPTIONS],
  );
  for (const c of columns.rows) {
    const column = `alter table ${shadow} alter column ${esc(c.name)}`;
    if (c.target !== c.shadowTarget) statements.push(`${column} set statistics ${c.target}`);
    optionChanges(column, parse(c.shadowOptions), parse(c.options));
    if (c.storage !== c.shadowStorage && STORAGE[c.storage] !== undefined) statements.push(`${column} set storage ${STORAGE[c.storage]}`);
    if (c.compression !== c.shadowCompression && COMPRESSION[c.compression] !== undefined) statements.push(`${column} set compression ${COMPRESSION[c.compression]}`);
    if (c.comment !== c.shadowComment) statements.push(`comment on column ${shadow}.${esc(c.name)} is ${c.comment === null ? 'null' : lit(c.comment)}`);
  }

  if (from.identity === 'i') {
    // USING INDEX: the shadow's copy of the live index (its twin by definition; the swap gives it the live name).
    const replica = (await indexesOf(client, live)).find((i) => i.replicaIdentity);
    const twin = replica === undefined ? undefined : (await indexesOf(client, shadow)).find((i) => i.signature === replica.signature);
    if (twin !== undefined && !twin.replicaIdentity) statements.push(`alter table ${shadow} replica identity using index ${esc(twin.name)}`);
  } else if (from.identity !== to.identity && REPLICA_IDENTITY[from.identity] !== undefined) {
    statements.push(`alter table ${shadow} replica identity ${REPLICA_IDENTITY[from.identity]}`);
  }

  for (const sql of statements) await client.query(sql);
}
