import type pg from 'pg';

/** A SECURITY DEFINER function, with what makes it safe or not. */
export interface DefinerFunction {
  readonly name: string;
  readonly pinnedSearchPath: boolean;
  readonly checksTenant: boolean;
}

/**
 * Reads the catalog and lists every way the database breaks the tenancy rules, as sentences (an
 * empty list means it holds). Run over the whole migrated database in the tests, so a table a later
 * migration adds is checked without anyone remembering to:
 * - every table in the service schemas has RLS enabled and forced;
 * - on tables with `tenant_id`, every primary, unique and foreign key includes `tenant_id`;
 * - every ALL/UPDATE policy has both USING and WITH CHECK (INSERT: WITH CHECK; SELECT/DELETE: USING);
 * - policies read settings through a sub-select (`(select current_setting(…))`, once per statement);
 * - views are `security_invoker`;
 * - SECURITY DEFINER functions pin `search_path` and check the tenant setting;
 * - `brigade_*` roles are not superusers, cannot bypass RLS and own nothing.
 */
export async function findTenancyViolations(db: Pick<pg.ClientBase, 'query'>, schemas: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const q = async <R extends pg.QueryResultRow>(sql: string, values: unknown[] = [schemas]) => (await db.query<R>(sql, values)).rows;

  for (const t of await q<{ t: string; rls: boolean; force: boolean }>(
    `select format('%I.%I', n.nspname, c.relname) as t, c.relrowsecurity as rls, c.relforcerowsecurity as force
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname = any($1::text[])`,
  )) {
    if (!t.rls || !t.force) problems.push(`${t.t}: row-level security is not ${t.rls ? 'forced' : 'enabled'}`);
  }

  for (const k of await q<{ t: string; con: string; kind: string }>(
    `select format('%I.%I', n.nspname, c.relname) as t, k.conname as con, k.contype::text as kind
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute ta on ta.attrelid = c.oid and ta.attname = 'tenant_id' and not ta.attisdropped
      where n.nspname = any($1::text[]) and k.contype in ('p', 'u', 'f') and not (ta.attnum = any(k.conkey))`,
  )) {
    problems.push(`${k.t}: ${({ p: 'primary key', u: 'unique key', f: 'foreign key' } as Record<string, string>)[k.kind]} ${k.con} does not include tenant_id`);
  }

  for (const p of await q<{ t: string; policy: string; cmd: string; qual: string | null; check: string | null }>(
    `select format('%I.%I', schemaname, tablename) as t, policyname as policy, cmd, qual, with_check as check
       from pg_policies where schemaname = any($1::text[])`,
  )) {
    const needsUsing = ['ALL', 'UPDATE', 'SELECT', 'DELETE'].includes(p.cmd);
    const needsCheck = ['ALL', 'UPDATE', 'INSERT'].includes(p.cmd);
    if (needsUsing && p.qual === null) problems.push(`${p.t}: policy ${p.policy} (${p.cmd}) has no USING`);
    if (needsCheck && p.check === null) problems.push(`${p.t}: policy ${p.policy} (${p.cmd}) has no WITH CHECK`);
    for (const expr of [p.qual, p.check]) {
      if (expr !== null && !settingsReadOncePerStatement(expr)) {
        problems.push(`${p.t}: policy ${p.policy} calls current_setting() per row; wrap it as (select current_setting(...))`);
        break;
      }
    }
  }

  for (const v of await q<{ t: string }>(
    `select format('%I.%I', n.nspname, c.relname) as t
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('v', 'm') and n.nspname = any($1::text[])
        and not coalesce('security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false)`,
  )) {
    problems.push(`${v.t}: view is not security_invoker`);
  }

  for (const f of await listSecurityDefinerFunctions(db)) {
    if (!f.pinnedSearchPath) problems.push(`${f.name}: SECURITY DEFINER without a pinned search_path`);
    if (!f.checksTenant) problems.push(`${f.name}: SECURITY DEFINER without a check of brigade.tenant_id`);
  }

  for (const r of await q<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; owned: number }>(
    `select r.rolname, r.rolsuper, r.rolbypassrls,
            ((select count(*) from pg_class c where c.relowner = r.oid)
           + (select count(*) from pg_namespace n where n.nspowner = r.oid)
           + (select count(*) from pg_proc p where p.proowner = r.oid))::int as owned
       from pg_roles r where r.rolname like 'brigade\\_%'`,
    [],
  )) {
    if (r.rolsuper) problems.push(`role ${r.rolname} is a superuser`);
    if (r.rolbypassrls) problems.push(`role ${r.rolname} has BYPASSRLS`);
    if (r.owned > 0) problems.push(`role ${r.rolname} owns ${r.owned} object(s)`);
  }
  return problems;
}

/** Every SECURITY DEFINER function outside the system schemas. */
export async function listSecurityDefinerFunctions(db: Pick<pg.ClientBase, 'query'>): Promise<DefinerFunction[]> {
  const rows = (
    await db.query<{ name: string; config: string[] | null; src: string }>(
      `select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as name, p.proconfig as config, p.prosrc as src
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
        order by 1`,
    )
  ).rows;
  return rows.map((r) => ({
    name: r.name,
    pinnedSearchPath: (r.config ?? []).some((c) => c.startsWith('search_path=')),
    checksTenant: r.src.includes('brigade.tenant_id'),
  }));
}

/**
 * True when every `current_setting(` in a deparsed policy expression sits inside a sub-select,
 * which PostgreSQL runs once per statement as an InitPlan rather than once per row.
 */
export function settingsReadOncePerStatement(expr: string): boolean {
  for (let at = expr.indexOf('current_setting('); at !== -1; at = expr.indexOf('current_setting(', at + 1)) {
    let depth = 0;
    let inside = false;
    for (let i = at - 1; i >= 0; i--) {
      const c = expr[i];
      if (c === ')') depth++;
      else if (c === '(') {
        if (depth > 0) depth--;
        else if (/^\(\s*SELECT\b/i.test(expr.slice(i))) {
          inside = true;
          break;
        }
      }
    }
    if (!inside) return false;
  }
  return true;
}
