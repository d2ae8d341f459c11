import type pg from 'pg';
import { HorizonStalledError, type BlockingSession } from './errors.ts';

/**
 * Waits until the oldest running transaction is at or past `fence` (from `nextTransactionId`): from
 * then on every transaction below the fence has ended, so a read of the log (which stops below the
 * oldest running transaction, decision 0011) sees all that they committed. Polls, backing off to
 * `maxStepMs`, and calls `onWait` once, the first time it has to wait.
 *
 * @throws {HorizonStalledError} still short of the fence after `timeoutMs`; names the transaction that
 *   holds the horizon: the one with the oldest transaction id (taken at its first write, not at BEGIN).
 */
export async function waitForHorizon(
  client: pg.ClientBase,
  fence: bigint,
  options: { readonly timeoutMs: number; readonly maxStepMs?: number; readonly onWait?: () => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let step = 5;
  for (let first = true; ; first = false) {
    const { rows } = await client.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin');
    if (BigInt(rows[0]!.xmin) >= fence) return;
    if (Date.now() >= deadline) {
      const oldest = await client.query<BlockingSession>(
        `select pid, extract(epoch from now() - xact_start)::float8 as seconds, state, left(query, 120) as query
           from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid() order by age(backend_xid) desc limit 1`,
      );
      throw new HorizonStalledError(oldest.rows[0] ?? null, options.timeoutMs);
    }
    if (first) options.onWait?.();
    await new Promise((r) => setTimeout(r, step));
    step = Math.min(options.maxStepMs ?? 500, step * 2);
  }
}
