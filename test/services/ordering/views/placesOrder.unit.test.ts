import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { evolveBoard, evolveCourierTask, evolveCustomerOrder, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { placesOrder } from '../../../../src/services/ordering/views/orderEventsOf.ts';
import { foldEventOf } from './support.ts';

const tenantId = randomUUID();
const orderId = randomUUID();
const fold = foldEventOf(tenantId, orderId);
const placed = fold(
  'OrderPlaced',
  {
    restaurantId: tenantId,
    customerId: randomUUID(),
    lines: [{ lineId: randomUUID(), itemId: randomUUID(), itemVersion: 1, name: 'Soup', unitPrice: 500, quantity: 1, modifiers: [], lineTotal: 500 }],
    total: 500,
    currency: 'EUR',
    deliveryAddress: 'Main St 1',
    placedAt: '2026-12-03T12:01:00.000Z',
  },
  1,
);

describe('the order views start their row at OrderPlaced (their startsRow)', () => {
  test("each view's fold of OrderPlaced ignores whatever row came before, as `startsRow: placesOrder` claims", () => {
    assert.equal(placesOrder(placed), true);
    assert.equal(placesOrder(fold('OrderAccepted', {}, 2)), false);
    for (const [projection, evolve] of [
      [ORDER_VIEWS.board, evolveBoard],
      [ORDER_VIEWS.customerOrders, evolveCustomerOrder],
      [ORDER_VIEWS.courierTasks, evolveCourierTask],
    ] as const) {
      const fresh = evolve(null, placed);
      assert.ok(fresh !== undefined, projection.name);
      // A row from later in the life of the same order: accepted, assigned, picked up.
      let later = fresh;
      for (const [i, [type, data]] of ([['OrderAccepted', { etaMinutes: 20 }], ['CourierAssigned', { courierId: randomUUID() }], ['OrderPickedUp', {}]] as const).entries()) {
        later = evolve(later, fold(type, data, i + 2)) ?? later;
      }
      assert.notDeepEqual(later, fresh, projection.name);
      assert.deepEqual(evolve(later, placed), fresh, projection.name);
      assert.deepEqual(evolve({ anything: 'else' }, placed), fresh, projection.name);
    }
  });
});
