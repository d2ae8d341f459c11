import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { customerOrdersQuery } from '../../../../src/services/ordering/views/listQueries.ts';
import { mergeViewRows } from '../../../../src/services/ordering/views/mergeViewRows.ts';

const tenant = '00000000-0000-4000-8000-000000000001';
/** A customer-orders row as `to_jsonb` gives it. */
const row = (orderId: string, status: string, lastTransactionId: string, lastPosition: string, placedAt = '2025-01-01T12:00:00+00:00') => ({
  tenant_id: tenant,
  order_id: orderId,
  status,
  placed_at: placedAt,
  last_transaction_id: lastTransactionId,
  last_position: lastPosition,
});
const query = customerOrdersQuery('00000000-0000-4000-8000-0000000000c1', undefined, 10);
const a = '00000000-0000-4000-8000-00000000000a';
const b = '00000000-0000-4000-8000-00000000000b';

describe('mergeViewRows: one order found in two databases (a restaurant being moved)', () => {
  test("keeps the row of the later event of the order's stream (last_position), whichever database answered it", () => {
    // The shared database's row was written back by a batch that ran across the move: it folds the
    // order up to position 120; the new database has since applied the order's next event, at 9000 in
    // its own sequence (set past every copied position), under a transaction id lower than the shared one's.
    const stale = row(a, 'accepted', '880000', '120');
    const fresh = row(a, 'ready', '512', '9000');
    assert.deepEqual(mergeViewRows([[stale], [fresh]], query), [fresh]);
    // And the other way round: the copy has not caught up yet, the shared row folds more of the same events.
    const copied = row(b, 'placed', '512', '95');
    const ahead = row(b, 'accepted', '880000', '120');
    assert.deepEqual(mergeViewRows([[ahead], [copied]], query), [ahead]);
  });

  test("on a tie (the same fold of the same events), the first page's row (the shared database's)", () => {
    const shared = row(a, 'accepted', '880000', '120');
    const copy = row(a, 'accepted', '512', '120');
    assert.equal(mergeViewRows([[shared], [copy]], query)[0], shared);
  });

  test('positions compare as integers, not as text or floats', () => {
    const nine = row(a, 'accepted', '1', '9');
    const ten = row(a, 'ready', '1', '10');
    assert.equal(mergeViewRows([[ten], [nine]], query)[0], ten);
    const big = row(b, 'ready', '1', '9007199254740993');
    const below = row(b, 'accepted', '1', '9007199254740992');
    assert.equal(mergeViewRows([[below], [big]], query)[0], big);
  });
});
