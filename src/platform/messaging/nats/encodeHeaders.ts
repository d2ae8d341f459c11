import type { MsgHdrs } from '@nats-io/transport-node';
import { InvalidMessageError } from '../errors.ts';
import { HEADER_NAME } from '../validate.ts';
/** What a header value may not contain. */
const LINE_BREAK = /[\r\n]/;
const encoder = new TextEncoder();

/**
 * The NATS header block of `pairs` (`NATS/1.0\r\nName: value\r\n…\r\n\r\n`), as nats.js's `publish`
 * takes it: an object whose `encode()` returns the bytes (publish reads nothing else of its headers).
 * nats.js's own `headers()` builds a Map of arrays per message and looks every name up again on each
 * `set`; the relay publishes every outbox row with five or six headers, so the block is built as one
 * string instead (decision 0061). Names and values are checked as nats.js checks them: a name is
 * printable ASCII without ':', a value has no CR or LF and is sent trimmed. Empty values are left out
 * (a missing header reads back as ''). Messages reach it checked by `validateMessage` already
 * (`headerProblem`); the check here also covers the transport's own headers and older rows.
 *
 * @throws {InvalidMessageError} a name or value NATS cannot carry.
 */
export function encodeHeaders(pairs: ReadonlyArray<readonly [string, string]>): MsgHdrs {
  let block = 'NATS/1.0\r\n';
  for (const [name, raw] of pairs) {
    if (raw === '' || raw == null) continue;
    if (!HEADER_NAME.test(name)) throw new InvalidMessageError(`Header name ${JSON.stringify(name)} is not printable ASCII without ':'`, 'headers');
    if (LINE_BREAK.test(raw)) throw new InvalidMessageError(`Header ${name} has a line break in its value`, 'headers');
    block += `${name}: ${String(raw).trim()}\r\n`;
  }
  const bytes = encoder.encode(`${block}\r\n`);
  return { encode: () => bytes } as unknown as MsgHdrs;
}
