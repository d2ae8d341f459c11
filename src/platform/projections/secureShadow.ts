import pg from 'pg';
import { NO_FLUSH_WAIT } from '../db/index.ts';
import { qualifiedTable } from './defineProjection.ts';
import { inTransaction } from './inTransaction.ts';
import { tableGrants } from './tableGrants.ts';
import type { Projection } from './types.ts';

/**
 * Gives the shadow table the live table's row-level security flags, policies (deparsed by
 * `pg_policies`) and grants (from `aclexplode(relacl)`), in one transaction on the owner's connection.
 */
export async function secureShadow(owner: pg.ClientBase, projection: Projection, shadowName: string): Promise<void> {
  const live = qualifiedTable(projection);
  const shadow = qualifiedTable(projection, shadowName);
  const esc = pg.escapeIdentifier;
  const flags = await owner.query<{ rls: boolean; force: boolean }>(
    `select relrowsecurity as rls, relforcerowsecurity as force from pg_class where oid = $1::regclass`,
    [live],
  );
  const policies = await owner.query<{ name: string; permissive: string; roles: string[]; cmd: string; qual: string | null; check: string | null }>(
    `select policyname as name, permissive, roles::text[] as roles, cmd, qual, with_check as check
       from pg_policies where schemaname = $1 and tablename = $2 order by policyname`,
    [projection.schema, projection.table],
  );
  const grants = await tableGrants(owner, live);
  const statements: string[] = [];
  if (flags.rows[0]?.rls === true) statements.push(`alter table ${shadow} enable row level security`);
  if (flags.rows[0]?.force === true) statements.push(`alter table ${shadow} force row level security`);
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
  await inTransaction(owner, { service: projection.service }, async (tx) => {
    await tx.query(NO_FLUSH_WAIT); // the shadow is disposable until the swap commits
    for (const sql of statements) await tx.query(sql);
  });
}
