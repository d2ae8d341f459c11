import pg from 'pg';
import type { Tx } from '../db/index.ts';

/** One privilege granted on a table, to a role or to PUBLIC. */
export interface TableGrant {
  /** The grantee as SQL: `public`, or the role's name quoted as an identifier. */
  readonly grantee: string;
  /** `SELECT`, `INSERT`, … as the catalog spells it. */
  readonly privilege: string;
}

/**
 * The privileges on `table` (a qualified name) granted to others than its owner, from
 * `aclexplode(relacl)`. Role names are read raw (`pg_get_userbyid`) and quoted here, so a name that
 * needs quotes (capitals, spaces, a `"`) comes back as one identifier.
 */
export async function tableGrants(client: Pick<Tx, 'query'> | pg.ClientBase, table: string): Promise<TableGrant[]> {
  const { rows } = await (client as Pick<Tx, 'query'>).query<{ role: string | null; privilege: string }>(
    `select case when a.grantee = 0 then null else pg_get_userbyid(a.grantee)::text end as role, a.privilege_type as privilege
       from pg_class c, aclexplode(c.relacl) a
      where c.oid = $1::regclass and a.grantee <> c.relowner`,
    [table],
  );
  return rows.map((r) => ({ grantee: r.role === null ? 'public' : pg.escapeIdentifier(r.role), privilege: r.privilege }));
}
