import type { MessageHeaders, OutgoingMessage } from './types.ts';

/** A message that keeps the JSON text its payload was parsed from. */
class SerializedPayloadMessage implements OutgoingMessage {
  readonly id: string;
  readonly subject: string;
  readonly key: string;
  readonly headers: MessageHeaders;
  readonly payload: unknown;
  readonly #json: string;

  constructor(message: Omit<OutgoingMessage, 'payload'>, json: string) {
    this.id = message.id;
    this.subject = message.subject;
    this.key = message.key;
    this.headers = message.headers;
    this.payload = JSON.parse(json) as unknown;
    this.#json = json;
  }

  static jsonOf(message: OutgoingMessage): string | undefined {
    return #json in message ? (message as SerializedPayloadMessage).#json : undefined;
  }
}

/**
 * A message whose payload arrives as JSON text, e.g. an outbox row's `payload::text`: transports send
 * that text as it is instead of serialising `payload` again (decision 0061). `payload` is the parsed
 * text. A copy (`{ ...m, payload: … }`) is an ordinary message, serialised from its own `payload`.
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
