import type { MessageHeaders } from '../types.ts';

/** A parked message with why and when it failed. */
export interface DeadLetter {
  /** The dead letter's own id (UUID v7), used by show/redrive/drop. */
  readonly id: string;
  readonly subscription: string;
  readonly message: {
    readonly id: string;
    readonly subject: string;
    readonly key: string;
    readonly headers: MessageHeaders;
    readonly payload: unknown;
  };
  /** The last attempt's error (name, code, message, top of the stack). */
  readonly error: string;
  readonly attempts: number;
  readonly firstFailedAt: Date;
  readonly lastFailedAt: Date;
  /** The transport it was consumed from (`postgres` or `nats`). */
  readonly transport: string;
}

/**
 * The columns of `brigade_bus.dead_letters d` (alias `d`). A query orders by `d.id`, never a bare `id`:
 * an unqualified ORDER BY names this list's output, the id as text sorted by the database's collation,
 * not the uuid (the outbox claim lost rows that way: claimOutboxBatch.ts).
 */
export const DEAD_LETTER_COLUMNS = `d.id::text as id, d.subscription, d.message_id::text as message_id, d.subject, d.key, d.headers, d.payload, d.error,
  d.attempts, d.first_failed_at, d.last_failed_at, d.transport`;

/** Maps a `dead_letters` row selected with {@link DEAD_LETTER_COLUMNS}. */
export function toDeadLetter(r: Record<string, unknown>): DeadLetter {
  return {
    id: r.id as string,
    subscription: r.subscription as string,
    message: {
      id: r.message_id as string,
      subject: r.subject as string,
      key: r.key as string,
      headers: r.headers as MessageHeaders,
      payload: r.payload,
    },
    error: r.error as string,
    attempts: r.attempts as number,
    firstFailedAt: r.first_failed_at as Date,
    lastFailedAt: r.last_failed_at as Date,
    transport: r.transport as string,
  };
}
