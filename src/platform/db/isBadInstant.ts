/** SQLSTATEs of an instant PostgreSQL cannot hold (year 0, 30 February, a zone offset past ±15:59) or parse. */
const BAD_INSTANT: ReadonlySet<string> = new Set(['22007', '22008', '22009']);

/**
 * Whether `error` is PostgreSQL's refusal of an instant it cannot hold or parse (SQLSTATE 22007, 22008
 * or 22009): a caller's date the checks before the database let through, to be answered as a 400 on
 * its field.
 */
export function isBadInstant(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && BAD_INSTANT.has(code);
}
