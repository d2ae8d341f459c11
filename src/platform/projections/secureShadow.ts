import pg from 'pg';
import { qualifiedTable } from './defineProjection.ts';
import { tableGrants } from './tableGrants.ts';
import type { Projection } from './types.ts';

/**
 * Gives the shadow table exactly the live table's row-level security flags, policies (deparsed by
 * `pg_policies`) and grants (from `aclexplode(relacl)`): what the shadow had of them before is dropped
 * and revoked first, so it can run again. Runs on `client` in the caller's transaction: once before
 * the service role first writes the shadow, and again in the swap's transaction with the live table
 * locked, so a grant, revoke or policy made on the live table while the rebuild ran is not lost.
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
  for (const grantee of new Set((await tableGrants(client, shadow)).map((g) => g.grantee))) statements.push(`revoke all on table ${shadow} from ${grantee}`);
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
  for (const g of grants) {
    if (!/^[A-Z ]+$/.test(g.privilege)) continue;
    statements.push(`grant ${g.privilege.toLowerCase()} on table ${shadow} to ${g.grantee}`);
  }
  for (const sql of statements) await client.query(sql);
}
