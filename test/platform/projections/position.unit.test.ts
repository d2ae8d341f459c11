import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import { comparePositions, formatPosition, parsePosition } from '../../../src/platform/projections/index.ts';

test('positions round-trip as "<transactionId>.<position>"; malformed or out-of-range ones are refused, naming the field', () => {
  const p = { transactionId: 18446744073709551615n, position: 42n };
  assert.equal(formatPosition(p), '18446744073709551615.42');
  assert.deepEqual(parsePosition('18446744073709551615.42'), p);
  for (const bad of ['', '1', '1.', '.1', '1.2.3', 'a.b', '-1.2', '18446744073709551616.1', '1.9223372036854775808']) {
    assert.throws(() => parsePosition(bad, 'Last-Event-ID'), (e: unknown) => e instanceof ValidationError && e.details?.field === 'Last-Event-ID', bad);
  }
});

test('positions compare numerically, transaction id first', () => {
  const at = (text: string) => parsePosition(text);
  assert.ok(comparePositions(at('9.100'), at('10.1')) < 0, "'10' sorts before '9' as text, not as a position");
  assert.ok(comparePositions(at('10.2'), at('10.10')) < 0);
  assert.equal(comparePositions(at('7.7'), at('7.7')), 0);
});

test('a position out of range names the range of each part and says to send the position a command returned, unchanged (before: only "after is out of range")', () => {
  for (const bad of ['99999999999999999999.1', '1.9223372036854775808']) {
    assert.throws(
      () => parsePosition(bad),
      (e: unknown) =>
        e instanceof ValidationError &&
        e.details?.field === 'after' &&
        e.message.includes('18446744073709551615') &&
        e.message.includes('9223372036854775807') &&
        /send the position a command returned, unchanged/.test(e.message),
      bad,
    );
  }
  assert.throws(() => parsePosition('18446744073709551616.1', 'Last-Event-ID'), (e: unknown) => e instanceof ValidationError && /^Last-Event-ID is out of range: /.test(e.message));
});
