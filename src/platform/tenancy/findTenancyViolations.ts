import type pg from 'pg';

/** A SECURITY DEFINER function, with what makes it safe or not. */
export interface DefinerFunction {
  readonly name: string;
  readonly pinnedSearchPath: boolean;
  /** Its body has a tenant guard ({@link guardsTenant}). */
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
 * - SECURITY DEFINER functions pin `search_path` and guard the tenant ({@link guardsTenant});
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
    if (!f.checksTenant) {
      problems.push(`${f.name}: SECURITY DEFINER without a check of brigade.tenant_id (an IF on current_setting('brigade.tenant_id') that raises errcode 42501)`);
    }
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
    checksTenant: guardsTenant(r.src),
  }));
}

/**
 * Whether a function body (`pg_proc.prosrc`) guards the tenant: outside its comments, an
 * `IF … THEN RAISE EXCEPTION … USING ERRCODE = '42501'` whose condition reads
 * `current_setting('brigade.tenant_id'…)`, as the platform's fences do (refusing a tenant that is not
 * the transaction's). A body that only names the setting (in a comment, a message, a variable it never
 * tests) does not pass. A lint, not a proof: it cannot tell what the condition compares, so a guard that
 * tests the wrong thing passes. A SQL-language body has no IF and never passes.
 *
 * @example
 * guardsTenant(`begin if p_tenant is distinct from nullif(current_setting('brigade.tenant_id', true), '')::uuid
 *   then raise exception 'not yours' using errcode = '42501'; end if; … end`); // true
 * guardsTenant(`begin -- checks brigade.tenant_id\n return 1; end`); // false
 */
export function guardsTenant(src: string): boolean {
  const code = withoutComments(src);
  // The condition runs to its first THEN and holds no `;` (so an `end if;` cannot lend it the next
  // statements); one with a CASE … THEN inside is cut short and fails, erring toward a finding. The
  // RAISE is the THEN's first statement, its USING in the same statement.
  const guard = /\bif\b((?:(?!\bthen\b)[^;])*)\bthen\s+raise\s+exception\b[^;]*\berrcode\s*=\s*'42501'/gi;
  for (const match of code.matchAll(guard)) {
    if (/\bcurrent_setting\s*\(\s*'brigade\.tenant_id'/i.test(match[1] ?? '')) return true;
  }
  return false;
}

/**
 * `src` with its `--` and (nested) `/* … *\/` comments blanked out; string literals (`'…'`, `E'…'`,
 * `$tag$…$tag$`) and quoted identifiers are kept as they are, comment-like text in them included.
 */
function withoutComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    const next = src[i + 1];
    if (c === '-' && next === '-') {
      const end = src.indexOf('\n', i);
      i = end === -1 ? src.length : end;
      out += ' ';
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < src.length && depth > 0) {
        const pair = src.slice(i, i + 2);
        if (pair === '/*' || pair === '*/') {
          depth += pair === '/*' ? 1 : -1;
          i += 2;
        } else {
          i++;
        }
      }
      out += ' ';
    } else if (c === "'" || c === '"') {
      // A doubled quote inside is the quote itself; a backslash escapes the next character only in an
      // E'…' string, where skipping it keeps an escaped quote from ending the literal.
      const escapes = c === "'" && /e/i.test(src[i - 1] ?? '') && !/\w/.test(src[i - 2] ?? '');
      let j = i + 1;
      while (j < src.length) {
        if (escapes && src[j] === '\\') j += 2;
        else if (src[j] === c && src[j + 1] === c) j += 2;
        else if (src[j] === c) break;
        else j++;
      }
      out += src.slice(i, j + 1);
      i = j + 1;
    } else if (c === '$' && /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.test(src.slice(i)) && !/[\w$]/.test(src[i - 1] ?? '')) {
      const tag = (/^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(src.slice(i)) as RegExpExecArray)[0];
      const end = src.indexOf(tag, i + tag.length);
      const stop = end === -1 ? src.length : end + tag.length;
      out += src.slice(i, stop);
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
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
