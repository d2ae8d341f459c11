import type { OutboxCheckpoint } from './claimOutboxBatch.ts';
import { compareOutboxPositions } from './compareOutboxPositions.ts';

/**
 * When the relay's checkpoint was where, kept in memory by the leader: the prune's bound. A row at or
 * before a checkpoint the relay had reached at time `t` was published (broker-acked) by `t`, so once
 * `t` is `retentionMs` in the past every such row has been kept at least the retention (decision 0067).
 */
export interface CheckpointHistory {
  /**
   * Notes that the checkpoint was at `checkpoint` at time `at` (ms on a monotonic clock, e.g.
   * `performance.now()`; calls in time order). Skipped when the last note is younger than the spacing:
   * the older note is the safe one to keep, and the next note after the spacing catches up.
   */
  record(checkpoint: OutboxCheckpoint, at: number): void;
  /** The newest noted checkpoint reached at least `retentionMs` before `now`; `null` while there is none. */
  publishedBefore(now: number): OutboxCheckpoint | null;
  /**
   * Forgets the notes past `checkpoint`: a session read a saved checkpoint behind them. The relay's
   * commits do not wait for the WAL flush (`synchronous_commit = off`), so a database crash can lose
   * the tail of them, the in-database bus's rows with the checkpoint saves; a checkpoint can also be
   * moved back by hand. The rows past it are then not published (or to be published again): a note
   * past it would let the prune delete them before the relay got to them again.
   */
  rewind(checkpoint: OutboxCheckpoint): void;
}

/**
 * A {@link CheckpointHistory} for `retentionMs`. Notes are spaced at least `retentionMs / 128` apart
 * and those superseded by a newer expired note are dropped, so it holds at most some 130 notes, and a
 * row is kept at most about 1/128 of the retention longer than it has to be (plus the prune interval).
 *
 * @example
 * const history = checkpointHistory(3_600_000);
 * history.record(checkpoint, performance.now());
 * const upTo = history.publishedBefore(performance.now()); // prune rows at or before it
 */
export function checkpointHistory(retentionMs: number): CheckpointHistory {
  const spacingMs = retentionMs / 128;
  const notes: Array<{ readonly checkpoint: OutboxCheckpoint; readonly at: number }> = [];
  /** Drops the notes that a newer note reached at least the retention before `now` makes useless. */
  const trim = (now: number) => {
    while (notes.length > 1 && notes[1]!.at <= now - retentionMs) notes.shift();
  };
  return {
    record: (checkpoint, at) => {
      const last = notes.at(-1);
      if (last !== undefined && (at - last.at < spacingMs || (last.checkpoint.transactionId === checkpoint.transactionId && last.checkpoint.id === checkpoint.id))) return;
      notes.push({ checkpoint, at });
      trim(at);
    },
    rewind: (checkpoint) => {
      while (notes.length > 0 && compareOutboxPositions(notes.at(-1)!.checkpoint, checkpoint) > 0) notes.pop();
    },
    publishedBefore: (now) => {
      trim(now);
      const first = notes[0];
      return first !== undefined && first.at <= now - retentionMs ? first.checkpoint : null;
    },
  };
}
