import type pg from 'pg';
import { unitOfWork } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
import { PROJECTION_WAKE_CHANNEL } from './applyBatch.ts';
import type { ProjectionListener } from './listenToProjections.ts';
import { comparePositions } from './position.ts';
import { readCheckpoint } from './readCheckpoint.ts';
import type { Projection } from './types.ts';

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
}

/** The outcome of a wait. */
export interface WaitResult {
  /** True when the projection had applied `after` (checkpoint ≥ after) before the time ran out. */
  readonly caughtUp: boolean;
  /** The checkpoint last read. */
  readonly checkpoint: GlobalPosition;
}

/** While the view is behind, the projection's leader is woken again this often (ms). */
const WAKE_EVERY_MS = 100;

/**
 * Read-your-writes: waits until the projection's checkpoint is at or past `after` (the position a
 * command returned), reading the checkpoint every `intervalMs`, for at most `timeoutMs`. While the
 * checkpoint is behind it wakes the projection's leader, in whichever process it runs (a NOTIFY on
 * {@link PROJECTION_WAKE_CHANNEL}, then again every 100 ms while still behind), so the reader waits for
 * one batch rather than the rest of the leader's idle step. Never throws on a timeout: the caller
 * answers with the view as it is and says it lags.
 *
 * @example
 * const { caughtUp } = await waitForPosition(pool, board, parsePosition(query.after), { timeoutMs: 2000 });
 */
export async function waitForPosition(pool: pg.Pool, projection: Projection, after: GlobalPosition, options: WaitForPositionOptions = {}): Promise<WaitResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  const read = () => unitOfWork(pool, { service: projection.service, readOnly: true }, (tx) => readCheckpoint(tx, projection));
  let wokenAt = -Infinity;
  for (;;) {
    const checkpoint = await read();
    if (comparePositions(checkpoint, after) >= 0) return { caughtUp: true, checkpoint };
    if (Date.now() >= deadline || options.signal?.aborted === true) return { caughtUp: false, checkpoint };
    if (Date.now() - wokenAt >= WAKE_EVERY_MS) {
      wokenAt = Date.now();
      // Only a shortcut: if it fails, the leader still comes round after its idle step.
      await pool.query('select pg_notify($1, $2)', [PROJECTION_WAKE_CHANNEL, `${projection.schema}.${projection.name}`]).catch(() => undefined);
    }
    await pause(Math.min(intervalMs, Math.max(1, deadline - Date.now())), projection, options.listener);
  }
}

/** Waits `ms`, or until `listener` reports a batch of `projection`. */
function pause(ms: number, projection: Projection, listener: ProjectionListener | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe?.();
      resolve();
    };
    const timer = setTimeout(done, ms);
    const unsubscribe = listener?.subscribe(projection, done);
  });
}
