import pg from 'pg';
import { copyTableSettings } from './copyTableSettings.ts';
import { qualifiedTable } from './defineProjection.ts';
import { revokeTableGrantsSql, tableGrants } from './tableGrants.ts';
import type { Projection } from './types.ts';

/**
 * Gives the shadow table exactly the live table's row-level security flags, policies (deparsed by
 * `pg_policies`), grants (`tableGrants`: on the table and on each column, with their grant options,
 * and a grant another role made through its grant option made again as that role) and the settings
 * `copyTableSettings` copies (storage parameters, statistics targets, comments, replica identity):
 * what the shadow had of them before is dropped, revoked or reset first, so it can run again. Runs on
 * `client` in the caller's transaction: once before the service role first writes the shadow, and
 * again in the swap's transaction with the live table locked, so a grant, revoke, policy or setting
 * made on the live table while the rebuild ran is not lost.
 *
 * A grant made by a role the connecting one cannot act as (`SET ROLE`: not a member of it, not a
 * superuser) is made by the owner instead: the grantee keeps the privilege, the grantor is the owner.
 */
export async function secureShadow(client: pg.ClientBase, projection: Projection, shadowName: string): Promise<void> {
  const live = qualifiedTable(projection);
  const shadow = qualifiedTable(projection, shadowName);
  const esc = pg.escapeIdentifier;
  const flags = await client.query<{ rls: boolean; force: boolean }>(`select relrowsecurity as rls, relforcerowsecurity as force from pg_class where oid = $1::regclass`, [live]);
  const policiesOf = (table: string) =>
    client.query<{ name: string; permissive: string; roles: string[]; cmd: string; qual: string | null; check: string | null }>(
      `select policyname as name, permissive, roles::text[] as roles, cmd, qual, with_check as check
         from pg_policies where schemaname = $1 and tablename = $2 order by policyname`,
      [projection.schema, table],
    );
  const policies = await policiesOf(projection.table);
  const grants = await tableGrants(client, live);
  const statements: string[] = [];
  for (const p of (await policiesOf(shadowName)).rows) statements.push(`drop policy ${esc(p.name)} on ${shadow}`);
  statements.push(...(await revokeTableGrantsSql(client, shadow)));
  statements.push(`alter table ${shadow} ${flags.rows[0]?.rls === true ? 'enable' : 'disable'} row level security`);
  statements.push(`alter table ${shadow} ${flags.rows[0]?.force === true ? 'force' : 'no force'} row level security`);
  // Policy expressions come from the catalog (pg_policies deparses them), never from input.
  for (const p of policies.rows) {
    const roles = p.roles.map((r) => (r === 'public' ? 'public' : esc(r))).join(', ');
    statements.push(
      `create policy ${esc(p.name)} on ${shadow} as ${p.permissive === 'PERMISSIVE' ? 'permissive' : 'restrictive'} for ${p.cmd.toLowerCase()} to ${roles}` +
        (p.qual === null ? '' : ` using (${p.qual})`) +
        (p.check === null ? '' : ` with check (${p.check})`),
    );
  }
  // In the live ACL's order: a grant through a grant option comes after the grant of the option.
  const shadowColumns = new Set((await client.query<{ name: string }>(`select attname::text as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped`, [shadow])).rows.map((r) => r.name));
  for (const g of grants) {
    if (!/^[A-Z ]+$/.test(g.privilege)) continue;
    // A column the shadow lacks (added to the live table since): the swap refuses the shadow anyway.
    if (g.column !== null && !shadowColumns.has(g.column)) continue;
    const grant = `grant ${g.privilege.toLowerCase()}${g.column === null ? '' : ` (${esc(g.column)})`} on table ${shadow} to ${g.grantee}${g.grantable ? ' with grant option' : ''}`;
    if (g.grantor !== null && g.mayActAsGrantor) statements.push(`set local role ${esc(g.grantor)}`, grant, 'set local role none');
    else statements.push(grant);
  }
  for (const sql of statements) await client.query(sql);
  await copyTableSettings(client, live, shadow);
}
