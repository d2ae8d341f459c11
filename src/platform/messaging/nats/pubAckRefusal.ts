import { UnavailableError } from '../../errors/index.ts';
import { InvalidMessageError } from '../errors.ts';

/** The error of a PubAck that refuses a message: `code` an HTTP-like status, `err_code` JetStream's own (nats-server's errors.json). */
export interface PubAckError {
  readonly code?: number;
  readonly err_code?: number;
  readonly description?: string;
}

/**
 * JetStream error codes (`err_code`) that refuse the message itself, with the field of the message at
 * fault: publishing the same message again is refused again, whatever the broker's state. Only the ones a
 * platform message can meet: the other message-level codes answer `Nats-Expected-*`, `Nats-TTL`, counter,
 * schedule or batch headers, which the transport never sends (a message's own headers ride as
 * `Brigade-H-*`). The HTTP-like `code` does not tell: 10109 (sealed stream) is a 400 about the stream, and
 * 10077 (a store that failed: the stream full, a disk error) a 503 about the stream.
 */
const REFUSES_THE_MESSAGE: ReadonlyMap<number, { readonly field: string; readonly what: string }> = new Map([
  // JSStreamMessageExceedsMaximumErr: headers and body together over the stream's max_msg_size.
  [10054, { field: 'payload', what: "it is larger than the stream's max_msg_size" }],
  // JSStreamHeaderExceedsMaximumErr: headers over 64 KiB, JetStream's own limit whatever the stream's settings.
  [10097, { field: 'headers', what: 'its headers are larger than JetStream stores (64 KiB)' }],
]);

/**
 * What a JetStream PubAck's refusal of one message means to the publisher (decision 0078, "Fixed later"):
 * {@link InvalidMessageError} (`MESSAGE_INVALID`, 400, `details.messageId` naming the message) when the
 * stream refuses the message for what it is (over `max_msg_size`, headers over 64 KiB), so that the
 * outbox relay reports the row (`OUTBOX_MESSAGE_REFUSED`) and a redrive keeps the letter and goes on;
 * {@link UnavailableError} for anything else: the stream's state (full with `discard: new`, insufficient
 * resources, no leader, a store that failed), which a retry can get past once the broker or its operator
 * mends it, and any code not known here (retried, as every refusal was before).
 *
 * @example
 * pubAckRefusal('BRIGADE', { id, subject }, { code: 400, err_code: 10054, description: 'message size exceeds maximum allowed' });
 * // InvalidMessageError: JetStream stream BRIGADE refused message … (ordering.order.Placed): message size exceeds maximum allowed (JetStream error 10054) …
 */
export function pubAckRefusal(stream: string, message: { readonly id: string; readonly subject: string }, error: PubAckError): InvalidMessageError | UnavailableError {
  const code = error.err_code ?? error.code;
  const reason = `${error.description ?? 'no description'} (JetStream error ${code ?? 'without a code'})`;
  const known = error.err_code === undefined ? undefined : REFUSES_THE_MESSAGE.get(error.err_code);
  if (known !== undefined) {
    return new InvalidMessageError(
      `JetStream stream ${stream} refused message ${message.id} (${message.subject}): ${reason}: ${known.what}, so publishing it again is refused again. ` +
        'Send it smaller (a payload over the claim-check threshold travels by reference), or raise the limit',
      known.field,
      { messageId: message.id },
    );
  }
  return new UnavailableError(`JetStream stream ${stream} refused message ${message.id} (${message.subject}): ${reason}`);
}
