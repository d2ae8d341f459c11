/**
 * `promise`, or a rejection after `ms` with an error saying so (`message`, by default "no answer
 * within `ms` ms"): for a call to a database or server that may hang (a readiness check, a read of a
 * tenant's own database). The work itself goes on; its late outcome is dropped.
 *
 * @example
 * const rows = await withDeadline(inspectMigrations(pool, files), 2000);
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, message = `no answer within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
