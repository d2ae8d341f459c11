/**
 * The message of a PostgreSQL "undefined table" (42P01) or "undefined schema" (3F000) error, the
 * error itself or one of its causes: what a command run against a database that was never migrated
 * meets. `undefined` for any other error.
 */
export function missingTableOrSchema(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (code === '42P01' || code === '3F000') return e.message;
  }
  return undefined;
}

/** What to tell the user when {@link missingTableOrSchema} found `missing`: which database, and to migrate it. */
export function notMigratedAdvice(missing: string, embedded: boolean): string {
  return `${embedded ? 'the embedded database (DATABASE_URL is unset)' : 'the database at DATABASE_URL'} is not migrated (${missing}): run 'brigade migrate' first`;
}
