import { ValidationError } from '../errors/index.ts';
import type { GlobalPosition } from '../events/index.ts';

const FORMAT = /^(\d{1,20})\.(\d{1,19})$/;
const MAX_XID8 = 2n ** 64n - 1n;
const MAX_BIGINT = 2n ** 63n - 1n;

/**
 * The wire form of a global position, as commands return it and `?after=` takes it:
 * `"<transactionId>.<position>"`, both decimal (e.g. `"7342.1051"`). Compare with
 * {@link comparePositions}, never as strings: both parts are compared numerically, transaction id first.
 *
 * @example
 * formatPosition(result.events.at(-1)!.globalPosition) // '7342.1051'
 */
export function formatPosition(position: GlobalPosition): string {
  return `${position.transactionId}.${position.position}`;
}

/**
 * Parses {@link formatPosition}'s form.
 *
 * @throws {ValidationError} (`field` as given) anything else, or a part past its type's range (the
 *   transaction id an `xid8`, the position a `bigint`): the message names both bounds.
 */
export function parsePosition(text: string, field = 'after'): GlobalPosition {
  const match = FORMAT.exec(text);
  if (match === null) throw new ValidationError(`${field} must be a position "<transactionId>.<position>", e.g. "7342.1051"`, { field });
  const transactionId = BigInt(match[1]!);
  const position = BigInt(match[2]!);
  if (transactionId > MAX_XID8 || position > MAX_BIGINT) {
    // Only a hand-made value gets here: say what fits and what to send instead.
    const send = field === 'Last-Event-ID' ? 'the id of the last event the stream sent' : 'the position a command returned';
    throw new ValidationError(`${field} is out of range: the transaction id must be at most ${MAX_XID8} and the position at most ${MAX_BIGINT}; send ${send}, unchanged`, { field });
  }
  return { transactionId, position };
}

/** Negative when `a` sorts before `b` in the global order, 0 when equal, positive after. */
export function comparePositions(a: GlobalPosition, b: GlobalPosition): number {
  if (a.transactionId !== b.transactionId) return a.transactionId < b.transactionId ? -1 : 1;
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return 0;
}
