import type { MessageHeaders, OutgoingMessage } from './types.ts';

/** The value of a payload not parsed yet. */
const UNPARSED: unique symbol = Symbol('unparsed');

/**
 * `payload` of a message built from JSON text: an own, enumerable accessor (a spread copy `{ ...m }`
 * reads it, as it read the data property before) that parses the text on its first read only. The
 * relay sends the text as it is and never reads the parsed value, so most rows are never parsed.
 */
function lazyPayload(this: SerializedPayloadMessage): unknown {
  return SerializedPayloadMessage.parsedPayload(this);
}

/** A message that keeps the JSON text of its payload. */
class SerializedPayloadMessage implements OutgoingMessage {
  readonly id: string;
  readonly subject: string;
  readonly key: string;
  readonly headers: MessageHeaders;
  declare readonly payload: unknown;
  readonly #json: string;
  #value: unknown = UNPARSED;

  constructor(message: Omit<OutgoingMessage, 'payload'>, json: string) {
    this.id = message.id;
    this.subject = message.subject;
    this.key = message.key;
    this.headers = message.headers;
    this.#json = json;
    Object.defineProperty(this, 'payload', { get: lazyPayload, enumerable: true });
  }

  static parsedPayload(message: SerializedPayloadMessage): unknown {
    if (message.#value === UNPARSED) message.#value = JSON.parse(message.#json) as unknown;
    return message.#value;
  }

  static jsonOf(message: OutgoingMessage): string | undefined {
    return #json in message ? (message as SerializedPayloadMessage).#json : undefined;
  }
}

/**
 * A message whose payload arrives as JSON text, e.g. an outbox row's `payload::text`: transports send
 * that text as it is instead of serialising `payload` again (decision 0061). `payload` is the parsed
 * text, parsed when first read. A copy (`{ ...m, payload: … }`) is an ordinary message, serialised from
 * its own `payload`.
 *
 * @example
 * const m = withSerializedPayload({ id, subject, key, headers }, '{"orderId":"…"}');
 * serializedPayload(m); // '{"orderId":"…"}', the same text
 */
export function withSerializedPayload(message: Omit<OutgoingMessage, 'payload'>, json: string): OutgoingMessage {
  return new SerializedPayloadMessage(message, json);
}

/** The payload of `message` as JSON text: the text it was built from, or `JSON.stringify(payload)` (`null` for none). */
export function serializedPayload(message: OutgoingMessage): string {
  return SerializedPayloadMessage.jsonOf(message) ?? JSON.stringify(message.payload ?? null);
}
