import pg from 'pg';
import type { Tx } from '../db/index.ts';

/** One privilege granted on a table or on one of its columns, to a role or to PUBLIC. */
export interface TableGrant {
  /** The grantee as SQL: `public`, or the role's name quoted as an identifier. */
  readonly grantee: string;
  /** `SELECT`, `INSERT`, … as the catalog spells it. */
  readonly privilege: string;
  /** The column's name (raw) for a column privilege; `null` for one on the table. */
  readonly column: string | null;
  /** Whether the grantee may grant it on (`WITH GRANT OPTION`). */
  readonly grantable: boolean;
  /** The role that granted it through its own grant option (raw name); `null` when the table's owner did. */
  readonly grantor: string | null;
  /** Whether the connecting role may grant as {@link grantor} (`SET ROLE`: a member of it, or a superuser), which can still name the table (`USAGE` on its schema). */
  readonly mayActAsGrantor: boolean;
}

/**
 * The privileges on `table` (a qualified name) and on its columns granted to others than its owner,
 * from `aclexplode` of `relacl` and of each column's `attacl`, in the order to grant them again: the
 * table's before its columns', each in its ACL's order, where a grant made through a grant option
 * comes after the grant that gave the option. Role names are read raw (`pg_get_userbyid`); the grantee
 * is quoted here, so a name that needs quotes (capitals, spaces, a `"`) comes back as one identifier.
 */
export async function tableGrants(client: Pick<Tx, 'query'> | pg.ClientBase, table: string): Promise<TableGrant[]> {
  const { rows } = await (client as Pick<Tx, 'query'>).query<{ role: string | null; privilege: string; column: string | null; grantable: boolean; grantor: string | null; may: boolean }>(
    `select case when a.grantee = 0 then null else pg_get_userbyid(a.grantee)::text end as role, a.privilege_type as privilege, g.attname::text as column,
            a.is_grantable as grantable, case when a.grantor = c.relowner then null else pg_get_userbyid(a.grantor)::text end as grantor,
            pg_has_role(a.grantor, 'MEMBER') and has_schema_privilege(a.grantor, c.relnamespace, 'USAGE') as may
       from pg_class c
       cross join lateral (select 0::int2 as attnum, null::name as attname, c.relacl as acl
                           union all
                           select attnum, attname, attacl from pg_attribute where attrelid = c.oid and attnum > 0 and not attisdropped and attacl is not null) g
       cross join lateral aclexplode(g.acl) with ordinality a
      where c.oid = $1::regclass and a.grantee <> c.relowner
      order by g.attnum, a.ordinality`,
    [table],
  );
  return rows.map((r) => ({ grantee: r.role === null ? 'public' : pg.escapeIdentifier(r.role), privilege: r.privilege, column: r.column, grantable: r.grantable, grantor: r.grantor, mayActAsGrantor: r.may }));
}

/**
 * The statements that take from others than its owner every privilege on `table` (a qualified name)
 * and on its columns (a table's REVOKE takes its columns' too), PUBLIC's included, with what they
 * granted on through a grant option (CASCADE): a shadow table made `LIKE` the live one starts bare.
 */
export async function revokeTableGrantsSql(client: Pick<Tx, 'query'> | pg.ClientBase, table: string): Promise<string[]> {
  const grantees = new Set((await tableGrants(client, table)).map((g) => g.grantee));
  grantees.add('public');
  return [...grantees].map((grantee) => `revoke all on table ${table} from ${grantee} cascade`);
}
