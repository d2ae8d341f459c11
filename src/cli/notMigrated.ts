/**
 * PostgreSQL's message for one of brigade's own roles (`brigade_platform`, `brigade_ordering` …) that
 * does not exist: migrating creates them, so on a cluster that was never migrated (a new embedded
 * `BRIGADE_HOME`) the first `set local role` fails with it. `SET ROLE` says it as
 * invalid_parameter_value (22023, the setting's check hook); a statement that names the role (a
 * grant) as undefined_object (42704).
 */
const MISSING_BRIGADE_ROLE = /^role "brigade_[a-z0-9_]+" does not exist$/;

/**
 * The message of a PostgreSQL "undefined table" (42P01) or "undefined schema" (3F000) error, or of a
 * 22023 or 42704 that is one of brigade's own roles missing ({@link MISSING_BRIGADE_ROLE}), the
 * error itself or one of its causes: what a command run against a database (or a whole cluster) that
 * was never migrated meets. `undefined` for any other error, another role's among them.
 */
export function missingTableOrSchema(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (code === '42P01' || code === '3F000') return e.message;
    if ((code === '22023' || code === '42704') && MISSING_BRIGADE_ROLE.test(e.message)) return e.message;
  }
  return undefined;
}

/**
 * What to tell the user when {@link missingTableOrSchema} found `missing` (or files are pending): which
 * database (`variable`, `DATABASE_URL` unless a service's own), and to migrate it.
 */
export function notMigratedAdvice(missing: string, embedded: boolean, variable = 'DATABASE_URL'): string {
  return `${embedded ? 'the embedded database (DATABASE_URL is unset)' : `the database at ${variable}`} is not migrated (${missing}): run 'brigade migrate' first`;
}
