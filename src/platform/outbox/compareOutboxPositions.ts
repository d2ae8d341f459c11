import type { OutboxCheckpoint } from './claimOutboxBatch.ts';

/**
 * Orders two positions in the relay's order, `(transaction_id, id)`: negative when `a` comes first, 0
 * when they are the same row, positive when `a` comes after.
 *
 * @example
 * compareOutboxPositions({ transactionId: '9', id: '1' }, { transactionId: '10', id: '1' }); // -1
 */
export function compareOutboxPositions(a: OutboxCheckpoint, b: OutboxCheckpoint): number {
  const x = BigInt(a.transactionId) - BigInt(b.transactionId);
  const d = x === 0n ? BigInt(a.id) - BigInt(b.id) : x;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
