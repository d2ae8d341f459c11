import pg from 'pg';
import { unitOfWork, type Databases, type Tx } from '../db/index.ts';
import { boundedUntil } from '../db/localTimeouts.ts';
import { readOutboxCheckpoint } from '../outbox/outboxCheckpoint.ts';
import { sleep } from '../runtime/sleep.ts';
import type { OutboxCheckpoint } from '../outbox/claimOutboxBatch.ts';
import { checkpointPassed } from './outboxMarks.ts';

/** How long one look at the mark or the checkpoint may take in the database (then it fails, and is retried). */
const READ_TIMEOUT_MS = 5000;

/**
 * The mark the move of the tenant placed at `url` recorded for `schema`, or null. Read through the
 * row's JSON: a shared database not yet migrated to platform 0019 has no `outbox_marks` (and no move
 * there recorded one), which reads as null instead of failing every look.
 */
async function readMark(tx: Tx, url: string, schema: string): Promise<OutboxCheckpoint | null> {
  const { rows } = await tx.query<{ mark: OutboxCheckpoint | null }>(`select to_jsonb(p) -> 'outbox_marks' -> $2 as mark from platform.tenant_placements p where p.database_url = $1`, [url, schema]);
  return rows[0]?.mark ?? null;
}

/** Options of {@link waitForMovedMessages}. */
export interface WaitForMovedMessagesOptions {
  /** The process's own databases, unrouted: the placement catalog's and the shared outbox's. */
  readonly shared: Databases;
  /** The dedicated database whose relay is about to start. */
  readonly url: string;
  /** The outbox's schema, which is its service's name. */
  readonly schema: string;
  readonly signal: AbortSignal;
  /** How often the shared relay's checkpoint is looked at while it is behind the mark. Default 100 ms. */
  readonly pollMs?: number;
  /** Called once, when the shared relay has not yet passed the mark (the wait begins). */
  readonly onWaiting?: (mark: OutboxCheckpoint) => void;
  /** A failed look (the relay looks again after `pollMs`). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Resolves once the relay of `schema`'s outbox in the dedicated database `url` may publish: when the
 * move that placed its restaurant there recorded no mark for the schema (the shared relay had published
 * everything), or when the shared relay's checkpoint has passed the mark (decision 0008). Until then the
 * restaurant's messages written before the move wait in the shared outbox, and those written after it
 * must not overtake them. Also resolves when `signal` aborts. A checkpoint only moves forward, so once
 * passed the wait is over for good; a relay that starts again looks once.
 *
 * @example
 * createRelay({ …, startAfter: (signal) => waitForMovedMessages({ shared: databases, url, schema: 'ordering', signal }) });
 */
export async function waitForMovedMessages(options: WaitForMovedMessagesOptions): Promise<void> {
  const pollMs = options.pollMs ?? 100;
  let waiting = false;
  while (!options.signal.aborted) {
    try {
      const mark = await unitOfWork(
        options.shared.poolFor('platform'),
        { service: 'platform', actor: { kind: 'admin', id: 'outbox-relay' }, readOnly: true },
        (tx) => readMark(tx, options.url, options.schema),
        boundedUntil(Date.now() + READ_TIMEOUT_MS),
      );
      if (mark === null) return;
      const checkpoint = await unitOfWork(
        options.shared.poolFor(options.schema),
        { service: options.schema, actor: { kind: 'system', id: 'outbox-relay' }, readOnly: true },
        (tx) => readOutboxCheckpoint(tx, `${pg.escapeIdentifier(options.schema)}.outbox_state`),
        boundedUntil(Date.now() + READ_TIMEOUT_MS),
      );
      if (checkpointPassed(checkpoint, mark)) return;
      if (!waiting) options.onWaiting?.(mark);
      waiting = true;
    } catch (error) {
      options.onError?.(error);
    }
    await sleep(pollMs, options.signal);
  }
}
