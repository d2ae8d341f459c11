import type pg from 'pg';
import { unitOfWork } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
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
}

/** The outcome of a wait. */
export interface WaitResult {
  /** True when the projection had applied `after` (checkpoint ≥ after) before the time ran out. */
  readonly caughtUp: boolean;
  /** The checkpoint last read. */
  readonly checkpoint: GlobalPosition;
}

/**
 * Read-your-writes: waits until the projection's checkpoint is at or past `after` (the position a
 * command returned), reading the checkpoint every `intervalMs`, for at most `timeoutMs`. Never
 * throws on a timeout: the caller answers with the view as it is and says it lags.
 *
 * @example
 * const { caughtUp } = await waitForPosition(pool, board, parsePosition(query.after), { timeoutMs: 2000 });
 */
export async function waitForPosition(pool: pg.Pool, projection: Projection, after: GlobalPosition, options: WaitForPositionOptions = {}): Promise<WaitResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  const read = () => unitOfWork(pool, { service: projection.service, readOnly: true }, (tx) => readCheckpoint(tx, projection));
  for (;;) {
    const checkpoint = await read();
    if (comparePositions(checkpoint, after) >= 0) return { caughtUp: true, checkpoint };
    if (Date.now() >= deadline || options.signal?.aborted === true) return { caughtUp: false, checkpoint };
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}
