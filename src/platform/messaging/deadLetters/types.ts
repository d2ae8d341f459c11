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
 * The header of a dead letter whose message no handler could take (published onto the JetStream stream
 * outside the platform: its body not JSON, no message id or one not a UUID, text PostgreSQL cannot
 * store): what was wrong with it. Set by the JetStream transport, which parks such a message at once
 * with its body as it came, as a JSON string (`attempts` 0); a redrive refuses such a letter
 * (`DEAD_LETTER_UNDECODABLE`). Its other headers: {@link STREAM_SEQUENCE_HEADER}, `brigade-sent-message-id`
 * (a message id that is no UUID; the letter's message id is then a new one), `brigade-body-encoding:
 * base64` (a body that is not UTF-8 text, or holds a NUL, which PostgreSQL cannot store as text).
 */
export const UNDECODABLE_HEADER = 'brigade-undecodable';

/** The header of a dead letter parked by the JetStream transport for what it was: the message's stream sequence. */
export const STREAM_SEQUENCE_HEADER = 'brigade-stream-sequence';

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
