import type pg from 'pg';
import { HorizonStalledError, type HorizonHolder } from './errors.ts';
import { wakeableSleep } from '../runtime/wakeableSleep.ts';
import { readOldestTransaction } from './readOldestTransaction.ts';

/** What a horizon wait reports while it waits ({@link waitForHorizon}'s `onWait`). */
export interface HorizonWait {
  /** How long it has waited so far. */
  readonly waitedSeconds: number;
  /** How long it waits in all before it gives up ({@link HorizonStalledError}). */
  readonly timeoutSeconds: number;
  /**
   * The session whose open transaction it waits for (the oldest running transaction with an id, in
   * any database of the cluster: backend pid, how long its transaction has been open, its state, the
   * start of its query), or null when that transaction ended between the two reads.
   */
  readonly holder: HorizonHolder | null;
}

/** Default of `reportEveryMs`: how often a wait that lasts says again what it waits for. */
export const HORIZON_REPORT_MS = 5000;

/**
 * Waits until the oldest running transaction is at or past `fence` (from `nextTransactionId`): from
 * then on every transaction below the fence has ended, so a read of the log (which stops below the
 * oldest running transaction, decision 0011) sees all that they committed. Polls, backing off to
 * `maxStepMs`. While it waits it calls `onWait` at once and then every `reportEveryMs` (default
 * {@link HORIZON_REPORT_MS}) with what it waits for (`readOldestTransaction`): a wait can last up to
 * `timeoutMs`, and the operator needs to know which session to end. Returns at once when `signal`
 * aborts (the caller tells that from the signal).
 *
 * @example
 * await waitForHorizon(client, fence, { timeoutMs: 300_000, onWait: (w) => console.log(`waiting ${w.waitedSeconds} s for backend ${w.holder?.pid}`) });
 *
 * @throws {HorizonStalledError} still short of the fence after `timeoutMs`; names the transaction that
 *   holds the horizon: the one with the oldest transaction id (taken at its first write, not at BEGIN).
 */
export async function waitForHorizon(
  client: pg.ClientBase,
  fence: bigint,
  options: {
    readonly timeoutMs: number;
    readonly maxStepMs?: number;
    /** How often `onWait` is called again while the wait lasts, in ms. Default {@link HORIZON_REPORT_MS}. */
    readonly reportEveryMs?: number;
    readonly onWait?: (wait: HorizonWait) => void;
    readonly signal?: AbortSignal | undefined;
  },
): Promise<void> {
  // The monotonic clock: a step of the host's wall clock neither ends the wait nor stretches it.
  const started = performance.now();
  const reportEveryMs = options.reportEveryMs ?? HORIZON_REPORT_MS;
  let nextReport = started;
  let step = 5;
  while (options.signal?.aborted !== true) {
    const { rows } = await client.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin');
    if (BigInt(rows[0]!.xmin) >= fence) return;
    const now = performance.now();
    if (now - started >= options.timeoutMs) {
      throw new HorizonStalledError(await readOldestTransaction(client), options.timeoutMs);
    }
    if (options.onWait !== undefined && now >= nextReport) {
      const holder = await readOldestTransaction(client);
      const reported = performance.now();
      options.onWait({ waitedSeconds: (reported - started) / 1000, timeoutSeconds: options.timeoutMs / 1000, holder });
      nextReport = reported + reportEveryMs;
    }
    await wakeableSleep(step, options.signal).done;
    step = Math.min(options.maxStepMs ?? 500, step * 2);
  }
}
