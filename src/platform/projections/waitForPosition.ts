import type pg from 'pg';
import { runWithoutFlushWait, unitOfWork } from '../db/index.ts';
import { boundedUntil, timeLeftSetting } from '../db/localTimeouts.ts';
import { answerWithin } from '../runtime/answerWithin.ts';
import { wakeableSleep, type WakeableSleep } from '../runtime/wakeableSleep.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import { PROJECTION_WAKE_CHANNEL } from './applyBatch.ts';
import type { ProjectionListener } from './listenToProjections.ts';
import { comparePositions, formatPosition } from './position.ts';
import { readCheckpoint } from './readCheckpoint.ts';
import type { Projection } from './types.ts';
import { projectionKey } from './defineProjection.ts';

/** Options of {@link waitForPosition}. */
export interface WaitForPositionOptions {
  /** The longest wait, in ms. Default 2000. */
  readonly timeoutMs?: number;
  /** Between two reads of the checkpoint, in ms. Default 20. */
  readonly intervalMs?: number;
  /** Stops waiting early (e.g. the client went away); resolves as a timeout. */
  readonly signal?: AbortSignal;
  /** The process's projection listener: each batch the projection commits ends a pause between reads early. */
  readonly listener?: ProjectionListener;
  /**
   * The checkpoint the caller has just read in this database (behind `after`): the wait starts with
   * the leader's wake-up and a pause instead of reading it again.
   */
  readonly checkpoint?: GlobalPosition;
  /**
   * Bounds each of the wait's transactions in the database too, until this instant (ms since the
   * epoch): `statement_timeout` and `lock_timeout` of the time left (`localTimeouts`; the wake-up
   * only `lock_timeout`, for the notify lock its commit takes), for a database that may hang while it
   * stays connected. A read cut short there rejects the wait.
   */
  readonly boundedUntil?: number;
}

/** The outcome of a wait. */
export interface WaitResult {
  /** True when the projection had applied `after` (checkpoint ≥ after) before the time ran out. */
  readonly caughtUp: boolean;
  /** The checkpoint last read (or given as `checkpoint`); the start of the log when none was read in time. */
  readonly checkpoint: GlobalPosition;
}

/** While the view stays behind at one checkpoint, its leader is woken again this often (ms), by one reader per process. */
const WAKE_EVERY_MS = 100;

/**
 * Read-your-writes: waits until the projection's checkpoint is at or past `after` (the position a
 * command returned), reading the checkpoint every `intervalMs`, for at most `timeoutMs`. While the
 * checkpoint is behind it wakes the projection's leader, in whichever process it runs (a NOTIFY on
 * {@link PROJECTION_WAKE_CHANNEL}; one per batch and process however many readers wait, and again
 * every 100 ms while no batch moves the checkpoint), so a reader waits for one batch rather than the
 * rest of the leader's idle step. With a `listener`, the batch's own notification ends the pause
 * between two reads. Never throws on a timeout: the caller answers with the view as it is and says it
 * lags. Returns within `timeoutMs`, or as soon as `signal` aborts, even while every connection of the
 * pool is taken: each checkpoint read is raced against both (a read the wait no longer awaits ends on
 * its own, bounded by `boundedUntil` when given), and the wake-up is sent without waiting for it.
 *
 * @example
 * const { caughtUp } = await waitForPosition(pool, board, parsePosition(query.after), { timeoutMs: 2000, listener });
 */
export async function waitForPosition(pool: pg.Pool, projection: Projection, after: GlobalPosition, options: WaitForPositionOptions = {}): Promise<WaitResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  const read = () => unitOfWork(pool, { service: projection.service, readOnly: true }, (tx) => readCheckpoint(tx, projection), boundedUntil(options.boundedUntil));
  let known = options.checkpoint;
  let last = known ?? START;
  // One subscription for the whole wait: a batch reported between a read and the next pause ends that pause at once.
  let batched = false;
  let pause: WakeableSleep | null = null;
  const unsubscribe = options.listener?.subscribe(projection, () => {
    batched = true;
    pause?.wake();
  });
  try {
    for (;;) {
      batched = false;
      const checkpoint = known ?? (await answerWithin(read(), deadline - Date.now(), options.signal));
      known = undefined;
      if (checkpoint === undefined) return { caughtUp: false, checkpoint: last };
      last = checkpoint;
      if (comparePositions(checkpoint, after) >= 0) return { caughtUp: true, checkpoint };
      if (Date.now() >= deadline || options.signal?.aborted === true) return { caughtUp: false, checkpoint };
      // Not awaited: it too waits for a connection, and a lost wake-up only costs the leader's idle step.
      void wakeLeader(pool, projection, checkpoint, options.boundedUntil);
      if (batched) continue;
      pause = wakeableSleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())), options.signal);
      await pause.done;
      pause = null;
    }
  } finally {
    unsubscribe?.();
  }
}

/** Each projection's last wake-up, per pool (database) of this process: when, and at which checkpoint. */
const lastWake = new WeakMap<pg.Pool, Map<string, { at: number; checkpoint: string }>>();

/**
 * Wakes the projection's leader, unless a reader of this process already did at this same checkpoint
 * (no batch since) in the last {@link WAKE_EVERY_MS}: however many readers wait, one wake-up per batch
 * and step. The NOTIFY commits without waiting for the WAL flush: a notifying commit holds the
 * cluster's notify lock until it ends, and a lost wake-up only means the leader's idle step. A failure
 * is ignored for the same reason. With `until`, the wait for that lock (its only wait) ends by then.
 */
async function wakeLeader(pool: pg.Pool, projection: Projection, checkpoint: GlobalPosition, until: number | undefined): Promise<void> {
  const key = projectionKey(projection);
  const at = formatPosition(checkpoint);
  let wakes = lastWake.get(pool);
  if (wakes === undefined) lastWake.set(pool, (wakes = new Map()));
  const last = wakes.get(key);
  if (last !== undefined && last.checkpoint === at && Date.now() - last.at < WAKE_EVERY_MS) return;
  wakes.set(key, { at: Date.now(), checkpoint: at });
  const notify =
    until === undefined
      ? { text: 'select pg_notify($1, $2)', values: [PROJECTION_WAKE_CHANNEL, key] }
      : { text: `select pg_notify($1, $2), set_config('lock_timeout', $3, true)`, values: [PROJECTION_WAKE_CHANNEL, key, timeLeftSetting(until)] };
  await runWithoutFlushWait(pool, notify).catch(() => undefined);
}
