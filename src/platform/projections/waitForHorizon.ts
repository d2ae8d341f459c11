import type pg from 'pg';
import { HorizonStalledError } from './errors.ts';
import { wakeableSleep } from '../runtime/wakeableSleep.ts';
import { readOldestTransaction } from './readOldestTransaction.ts';

/**
 * Waits until the oldest running transaction is at or past `fence` (from `nextTransactionId`): from
 * then on every transaction below the fence has ended, so a read of the log (which stops below the
 * oldest running transaction, decision 0011) sees all that they committed. Polls, backing off to
 * `maxStepMs`, and calls `onWait` once, the first time it has to wait. Returns at once when `signal`
 * aborts (the caller tells that from the signal).
 *
 * @throws {HorizonStalledError} still short of the fence after `timeoutMs`; names the transaction that
 *   holds the horizon: the one with the oldest transaction id (taken at its first write, not at BEGIN).
 */
export async function waitForHorizon(
  client: pg.ClientBase,
  fence: bigint,
  options: { readonly timeoutMs: number; readonly maxStepMs?: number; readonly onWait?: () => void; readonly signal?: AbortSignal | undefined },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let step = 5;
  for (let first = true; options.signal?.aborted !== true; first = false) {
    const { rows } = await client.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin');
    if (BigInt(rows[0]!.xmin) >= fence) return;
    if (Date.now() >= deadline) {
      throw new HorizonStalledError(await readOldestTransaction(client), options.timeoutMs);
    }
    if (first) options.onWait?.();
    await wakeableSleep(step, options.signal).done;
    step = Math.min(options.maxStepMs ?? 500, step * 2);
  }
}
