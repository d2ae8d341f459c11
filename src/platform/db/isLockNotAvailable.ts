/**
 * Whether `error` is PostgreSQL's `lock_not_available` (SQLSTATE 55P03): a `for update nowait` of a row
 * another transaction holds, or a lock wait that `lock_timeout` ended.
 */
export function isLockNotAvailable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '55P03';
}
