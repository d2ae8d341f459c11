import { STREAM_SEQUENCE_HEADER, UNDECODABLE_HEADER } from '../deadLetters/types.ts';
import { isUuid } from '../../ids/index.ts';
import { newMessageId } from '../newMessageId.ts';
import type { MessageHeaders, OutgoingMessage } from '../types.ts';

/** What the JetStream transport read of a stream message it cannot decode. */
export interface UndecodableStreamMessage {
  readonly subject: string;
  /** Its sequence in the stream. */
  readonly sequence: number;
  /** The message id it came with (`Brigade-Message-Id`, else `Nats-Msg-Id`), `''` without one. */
  readonly messageId: string;
  /** Its `Brigade-Key`, `''` without one. */
  readonly key: string;
  /** Its `Brigade-H-*` headers, without the prefix. */
  readonly headers: Readonly<Record<string, string>>;
  /** Its body, as it came. */
  readonly body: Uint8Array;
}

/** The header of such a letter that keeps a message id which is no UUID (the letter's message id is a new one). */
export const SENT_MESSAGE_ID_HEADER = 'brigade-sent-message-id';
/** The header of such a letter whose payload is its body in base64 (`base64`), not its text. */
export const BODY_ENCODING_HEADER = 'brigade-body-encoding';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The message a dead letter keeps of a stream message the JetStream transport cannot decode (published
 * onto the stream outside the platform), as PostgreSQL can store it: the body as text, a JSON string
 * (in base64 when it is not UTF-8 or holds a NUL, which PostgreSQL text cannot), its message id when it
 * is a UUID (else a new one, the one it came with kept in `brigade-sent-message-id`), NULs elsewhere
 * replaced, and headers that say what was wrong (`problem`) and where it was in the stream.
 *
 * @example
 * undecodableLetter({ subject: 'menu.item.changed', sequence: 42, messageId: '', key: '', headers: {}, body }, 'it has no message id (Nats-Msg-Id)')
 * // { id: <new UUID>, …, headers: { 'brigade-undecodable': 'it has no message id (Nats-Msg-Id)', 'brigade-stream-sequence': '42', … }, payload: 'not json' }
 */
export function undecodableLetter(m: UndecodableStreamMessage, problem: string): OutgoingMessage {
  const headers: Record<string, string> = { correlation: '', causation: '', tenant: '', traceparent: '' };
  for (const name in m.headers) headers[storable(name)] = storable(m.headers[name]!);
  const usableId = isUuid(m.messageId);
  if (!usableId && m.messageId !== '') headers[SENT_MESSAGE_ID_HEADER] = storable(m.messageId);
  headers[UNDECODABLE_HEADER] = storable(problem);
  headers[STREAM_SEQUENCE_HEADER] = String(m.sequence);
  let payload: string | null = null;
  try {
    payload = utf8.decode(m.body);
  } catch {
    // not UTF-8: base64 below
  }
  if (payload === null || payload.includes('\0')) {
    payload = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString('base64');
    headers[BODY_ENCODING_HEADER] = 'base64';
  }
  return { id: usableId ? m.messageId : newMessageId(), subject: storable(m.subject), key: storable(m.key), headers: headers as MessageHeaders, payload };
}

/** `text` as PostgreSQL can store it in text and jsonb: each NUL replaced by U+FFFD. */
export function storable(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}
