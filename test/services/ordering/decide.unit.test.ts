import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { MAX_ORDER_TOTAL } from '../../../src/platform/money/index.ts';
import { decide } from '../../../src/services/ordering/domain/decide.ts';
import { evolve } from '../../../src/services/ordering/domain/evolve.ts';
import { foldOrder } from '../../../src/services/ordering/domain/foldOrder.ts';
import type { CommandActor, OrderCommand } from '../../../src/services/ordering/domain/orderCommands.ts';
import type { OrderEvent } from '../../../src/services/ordering/domain/orderEvents.ts';
import { INITIAL_ORDER, type OrderState, type OrderStatus } from '../../../src/services/ordering/domain/orderState.ts';

const orderId = '0190a000-0000-7000-8000-000000000001';
const restaurantId = '0190a000-0000-7000-8000-0000000000aa';
const customer: CommandActor = { kind: 'customer', id: '0190a000-0000-7000-8000-0000000000c1' };
const staff: CommandActor = { kind: 'staff', id: '0190a000-0000-7000-8000-0000000000s1'.replace('s', '5') };
const admin: CommandActor = { kind: 'admin', id: 'ops' };
const system: CommandActor = { kind: 'system', id: 'delivery' };
const courier1: CommandActor = { kind: 'courier', id: '0190a000-0000-7000-8000-0000000000e1' };
const courier2: CommandActor = { kind: 'courier', id: '0190a000-0000-7000-8000-0000000000e2' };
const line1 = '0190a000-0000-7000-8000-000000000011';
const line2 = '0190a000-0000-7000-8000-000000000012';

const place: Extract<OrderCommand, { type: 'place' }> = {
  type: 'place',
  by: customer,
  orderId,
  restaurantId,
  customerId: customer.id,
  lines: [
    {
      lineId: line1,
      itemId: '0190a000-0000-7000-8000-0000000000f1',
      itemVersion: 3,
      name: 'Margherita',
      unitPrice: 1000,
      quantity: 2,
      modifiers: [
        { modifierId: '0190a000-0000-7000-8000-0000000000d1', name: 'Large', priceDelta: 300 },
        { modifierId: '0190a000-0000-7000-8000-0000000000d2', name: 'No basil', priceDelta: -50 },
      ],
    },
    { lineId: line2, itemId: '0190a000-0000-7000-8000-0000000000f2', itemVersion: 1, name: 'Cola', unitPrice: 250, quantity: 3, modifiers: [] },
  ],
  currency: 'EUR',
  deliveryAddress: 'Rua Augusta 1, Lisboa',
  placedAt: '2030-01-01T12:00:00.000Z',
};

/** The events that take an order to each status (the ready/picked-up path has courier 1 assigned). */
const placedEvent = decide(place, INITIAL_ORDER)[0]!;
const PATHS: Record<OrderStatus, OrderEvent[]> = {
  none: [],
  placed: [placedEvent],
  accepted: [placedEvent, { type: 'OrderAccepted', data: { orderId } }],
  ready: [placedEvent, { type: 'OrderAccepted', data: { orderId } }, { type: 'CourierAssigned', data: { orderId, courierId: courier1.id } }, { type: 'OrderReady', data: { orderId } }],
  picked_up: [
    placedEvent,
    { type: 'OrderAccepted', data: { orderId } },
    { type: 'CourierAssigned', data: { orderId, courierId: courier1.id } },
    { type: 'OrderReady', data: { orderId } },
    { type: 'OrderPickedUp', data: { orderId, courierId: courier1.id } },
  ],
  delivered: [
    placedEvent,
    { type: 'OrderAccepted', data: { orderId } },
    { type: 'CourierAssigned', data: { orderId, courierId: courier1.id } },
    { type: 'OrderReady', data: { orderId } },
    { type: 'OrderPickedUp', data: { orderId, courierId: courier1.id } },
    { type: 'OrderDelivered', data: { orderId } },
  ],
  rejected: [placedEvent, { type: 'OrderRejected', data: { orderId, reason: 'closed' } }],
  cancelled: [placedEvent, { type: 'OrderCancelled', data: { orderId, by: 'customer', reason: '' } }],
};
const stateAt = (status: OrderStatus) => Object.freeze(foldOrder(PATHS[status]));

const COMMANDS: Record<string, OrderCommand> = {
  place,
  accept: { type: 'accept', by: staff, etaMinutes: 25 },
  reject: { type: 'reject', by: staff, reason: 'out of dough' },
  'mark-item-prepared': { type: 'mark-item-prepared', by: staff, lineId: line1 },
  ready: { type: 'ready', by: staff },
  'assign-courier': { type: 'assign-courier', by: staff, courierId: courier2.id },
  'cancel by customer': { type: 'cancel', by: customer, reason: 'changed my mind' },
  'cancel by staff': { type: 'cancel', by: staff, reason: 'no courier' },
  'cancel by admin': { type: 'cancel', by: admin, reason: 'fraud' },
  'cancel by system': { type: 'cancel', by: system, reason: 'payment failed' },
  'pick-up': { type: 'pick-up', by: courier1 },
  deliver: { type: 'deliver', by: courier1 },
};

// The lifecycle, written out by hand (not derived from the code): the event a command produces in
// each status, or the error code it gets. X = 422 ORDER_TRANSITION_FORBIDDEN; 404 = no such order.
const X = 'ORDER_TRANSITION_FORBIDDEN';
const N = 'NOT_FOUND';
const STATUSES: OrderStatus[] = ['none', 'placed', 'accepted', 'ready', 'picked_up', 'delivered', 'rejected', 'cancelled'];
const TABLE: Record<string, string[]> = {
  //                   none           placed            accepted           ready              picked_up         delivered rejected cancelled
  place: ['OrderPlaced', X, X, X, X, X, X, X],
  accept: [N, 'OrderAccepted', X, X, X, X, X, X],
  reject: [N, 'OrderRejected', X, X, X, X, X, X],
  'mark-item-prepared': [N, X, 'ItemPrepared', X, X, X, X, X],
  ready: [N, X, 'OrderReady', X, X, X, X, X],
  'assign-courier': [N, X, 'CourierAssigned', 'CourierAssigned', X, X, X, X],
  'cancel by customer': [N, 'OrderCancelled', X, X, X, X, X, X],
  'cancel by staff': [N, 'OrderCancelled', 'OrderCancelled', 'OrderCancelled', X, X, X, X],
  // An admin also after the pick-up (an order lost in transit; decision 0088): never once it is finished.
  'cancel by admin': [N, 'OrderCancelled', 'OrderCancelled', 'OrderCancelled', 'OrderCancelled', X, X, X],
  'cancel by system': [N, 'OrderCancelled', 'OrderCancelled', 'OrderCancelled', X, X, X, X],
  'pick-up': [N, X, X, 'OrderPickedUp', X, X, X, X],
  deliver: [N, X, X, X, 'OrderDelivered', X, X, X],
};

const outcome = (command: OrderCommand, state: OrderState): string => {
  try {
    const events = decide(command, state);
    assert.equal(events.length, 1);
    return events[0]!.type;
  } catch (error) {
    assert.ok(error instanceof BrigadeError, String(error));
    return error.code;
  }
};

describe('order decide × status (every command in every status)', () => {
  for (const [name, command] of Object.entries(COMMANDS)) {
    test(name, () => {
      const got = STATUSES.map((status) => outcome(command, stateAt(status)));
      assert.deepEqual(got, TABLE[name]);
    });
  }

  test('a forbidden transition is a 422 whose message names the status and the command', () => {
    const error = (() => {
      try {
        decide({ type: 'deliver', by: courier1 }, stateAt('ready'));
      } catch (e) {
        return e as BrigadeError;
      }
      return null;
    })();
    assert.ok(error !== null);
    assert.equal(error.status, 422);
    assert.match(error.message, /deliver/);
    assert.match(error.message, /ready/);
    assert.deepEqual(error.details, { orderStatus: 'ready', command: 'deliver' });
  });

  test('a forbidden transition says what to do next; the code, status and details stay as they were', () => {
    const refusal = (command: OrderCommand, status: OrderStatus) => {
      try {
        decide(command, stateAt(status));
      } catch (e) {
        assert.ok(e instanceof BrigadeError);
        assert.deepEqual([e.code, e.status], ['ORDER_TRANSITION_FORBIDDEN', 422]);
        return e.message;
      }
      assert.fail('not refused');
    };
    assert.equal(refusal({ type: 'deliver', by: courier1 }, 'ready'), 'Cannot deliver an order that is ready: pick it up first (POST /v1/orders/{id}/pick-up), then deliver it');
    for (const status of ['placed', 'accepted'] as const) {
      assert.equal(refusal({ type: 'pick-up', by: courier1 }, status), `Cannot pick-up an order that is ${status}: wait until the restaurant marks it ready, then pick it up`);
      assert.equal(refusal({ type: 'deliver', by: courier1 }, status), `Cannot deliver an order that is ${status}: wait until the restaurant marks it ready, then pick it up and deliver it`);
    }
    assert.equal(
      refusal({ type: 'cancel', by: customer, reason: '' }, 'accepted'),
      'Cannot cancel an order that is accepted (a customer can cancel only before the restaurant accepts): ask the restaurant to cancel it',
    );
    // Nothing can be done any more: the refusal says so instead of sending the reader to look for a way.
    for (const status of ['delivered', 'cancelled', 'rejected'] as const) {
      assert.equal(refusal({ type: 'accept', by: staff }, status), `Cannot accept an order that is ${status}: the order is finished and can no longer be changed`);
      assert.equal(refusal({ type: 'cancel', by: admin, reason: 'fraud' }, status), `Cannot cancel an order that is ${status}: the order is finished and can no longer be changed`);
    }
    const withCourier =
      'the order is with its courier and can no longer be changed; only its courier can deliver it ' +
      '(an order lost in transit is cancelled by an admin: POST /v1/orders/{id}/cancel with a reason)';
    for (const command of [{ type: 'cancel', by: staff, reason: 'x' }, { type: 'cancel', by: customer, reason: '' }, { type: 'ready', by: staff }, { type: 'assign-courier', by: staff, courierId: courier2.id }] as OrderCommand[]) {
      assert.equal(refusal(command, 'picked_up'), `Cannot ${command.type} an order that is picked_up: ${withCourier}`);
    }
    assert.equal(refusal({ type: 'pick-up', by: courier1 }, 'picked_up'), 'Cannot pick-up an order that is picked_up: it is picked up already: deliver it (POST /v1/orders/{id}/deliver)');
    // A status in which the order still moves, refused for this command: where to look stays the advice.
    assert.equal(refusal({ type: 'accept', by: staff }, 'ready'), `Cannot accept an order that is ready: read the order (GET /v1/orders/${orderId}) for its status and what it takes now`);
  });

  test('decide does not change the state it is given (frozen states above would throw otherwise)', () => {
    const state = stateAt('accepted');
    const before = JSON.stringify(state);
    decide({ type: 'mark-item-prepared', by: staff, lineId: line2 }, state);
    assert.equal(JSON.stringify(state), before);
  });
});

describe('order decide: finer rules', () => {
  const code = (command: OrderCommand, state: OrderState) => outcome(command, state);

  test('placement: each line keeps item id, version and price; line total = (price + modifier deltas) × quantity; total = sum of lines', () => {
    const data = placedEvent.type === 'OrderPlaced' ? placedEvent.data : assert.fail('not OrderPlaced');
    assert.deepEqual(
      data.lines.map((l) => [l.itemId, l.itemVersion, l.unitPrice, l.quantity, l.lineTotal]),
      [
        [place.lines[0]!.itemId, 3, 1000, 2, (1000 + 300 - 50) * 2],
        [place.lines[1]!.itemId, 1, 250, 3, 750],
      ],
    );
    assert.equal(data.total, 2500 + 750);
    assert.deepEqual(data.lines[0]!.modifiers, place.lines[0]!.modifiers);
    assert.equal(code({ ...place, lines: [] }, INITIAL_ORDER), 'ORDER_EMPTY');
    assert.equal(code({ ...place, lines: [{ ...place.lines[1]!, unitPrice: 100, modifiers: [{ modifierId: 'm', name: 'discount', priceDelta: -200 }] }] }, INITIAL_ORDER), 'ORDER_LINE_PRICE_INVALID');
  });

  test('place: a total above MAX_ORDER_TOTAL is refused (422 ORDER_TOTAL_TOO_HIGH, with the total and the most); at it, placed', () => {
    const line = { ...place.lines[1]!, modifiers: [], quantity: 1 };
    const atMost = decide({ ...place, lines: [{ ...line, unitPrice: MAX_ORDER_TOTAL }] }, INITIAL_ORDER);
    assert.equal((atMost[0]!.data as { total: number }).total, MAX_ORDER_TOTAL);
    assert.throws(
      () => decide({ ...place, lines: [{ ...line, unitPrice: MAX_ORDER_TOTAL }, { ...line, lineId: 'l-2', unitPrice: 1 }] }, INITIAL_ORDER),
      (error: { status: number; code: string; details: Record<string, unknown>; message: string }) => {
        assert.deepEqual([error.status, error.code, error.details.total, error.details.maxTotal], [422, 'ORDER_TOTAL_TOO_HIGH', MAX_ORDER_TOTAL + 1, MAX_ORDER_TOTAL]);
        assert.match(error.message, /split it into smaller orders/);
        return true;
      },
    );
  });

  test('place: an expectedTotal other than the total is refused (409 ORDER_TOTAL_CHANGED, with the total and each line); equal to it, placed', () => {
    const total = (decide(place, INITIAL_ORDER)[0]!.data as { total: number }).total;
    assert.equal(decide({ ...place, expectedTotal: total }, INITIAL_ORDER)[0]!.type, 'OrderPlaced');
    assert.throws(
      () => decide({ ...place, expectedTotal: total - 1 }, INITIAL_ORDER),
      (error: { status: number; code: string; details: Record<string, unknown>; message: string }) => {
        assert.deepEqual([error.status, error.code, error.details.expectedTotal, error.details.total, error.details.field], [409, 'ORDER_TOTAL_CHANGED', total - 1, total, 'expectedTotal']);
        assert.deepEqual(error.details.lines, [
          { itemId: place.lines[0]!.itemId, itemVersion: 3, unitPrice: 1000, lineTotal: (1000 + 300 - 50) * 2 },
          { itemId: place.lines[1]!.itemId, itemVersion: 1, unitPrice: 250, lineTotal: 750 },
        ]);
        assert.match(error.message, /send the new total/);
        return true;
      },
    );
  });

  test('mark-item-prepared: unknown line and a line prepared twice are refused, saying what to do', () => {
    const accepted = stateAt('accepted');
    const unknownLine = '0190a000-0000-7000-8000-0000000000ff';
    assert.equal(code({ type: 'mark-item-prepared', by: staff, lineId: unknownLine }, accepted), 'ORDER_LINE_UNKNOWN');
    assert.throws(() => decide({ type: 'mark-item-prepared', by: staff, lineId: unknownLine }, accepted), {
      message: `Order ${orderId} has no line ${unknownLine}: use a lineId from the order's lines (GET /v1/orders/${orderId})`,
    });
    const once = evolve(accepted, { type: 'ItemPrepared', data: { orderId, lineId: line1 } });
    assert.equal(code({ type: 'mark-item-prepared', by: staff, lineId: line1 }, once), 'ORDER_ITEM_ALREADY_PREPARED');
    assert.throws(() => decide({ type: 'mark-item-prepared', by: staff, lineId: line1 }, once), { message: `Nothing to do: line ${line1} of order ${orderId} is already prepared` });
    assert.equal(code({ type: 'mark-item-prepared', by: staff, lineId: line2 }, once), 'ItemPrepared');
  });

  test('an admin cancels a picked-up order (lost in transit) only with a reason; the event names the courier who had it; staff, customer and system still may not', () => {
    const pickedUp = stateAt('picked_up');
    const lost = decide({ type: 'cancel', by: admin, reason: 'lost in transit: courier unreachable since 20:15' }, pickedUp);
    assert.deepEqual(lost, [{ type: 'OrderCancelled', data: { orderId, by: 'admin', reason: 'lost in transit: courier unreachable since 20:15', pickedUpBy: courier1.id } }]);
    const cancelled = foldOrder(lost, pickedUp);
    assert.deepEqual([cancelled.status, cancelled.cancelledBy, cancelled.courierId], ['cancelled', 'admin', courier1.id]);
    // Invisible-only reads as blank too (before: a lone zero-width space passed `trim()` and was the customer's "reason").
    for (const reason of ['', '   ', '\u200B', ' \u2060\uFEFF ', '\u00AD', '\u200D\u200C', '\u3164', '\u001b']) {
      assert.throws(
        () => decide({ type: 'cancel', by: admin, reason }, pickedUp),
        (error: BrigadeError) => {
          assert.deepEqual([error.status, error.code, error.details], [422, 'ORDER_CANCEL_REASON_REQUIRED', { field: 'reason', orderStatus: 'picked_up' }]);
          assert.match(error.message, /needs a reason/);
          return true;
        },
      );
    }
    // Before the pick-up an admin's cancel is as staff's: no reason needed, no courier named.
    assert.deepEqual(decide({ type: 'cancel', by: admin, reason: '' }, stateAt('ready')), [{ type: 'OrderCancelled', data: { orderId, by: 'admin', reason: '' } }]);
    for (const by of [staff, customer, system]) assert.equal(code({ type: 'cancel', by, reason: 'lost' }, pickedUp), X, by.kind);
    assert.equal(code({ type: 'cancel', by: courier1, reason: 'lost' }, pickedUp), X, 'a courier neither');
    assert.equal(code({ type: 'deliver', by: admin }, pickedUp), 'FORBIDDEN', 'deliver stays the courier\'s');
  });

  test('pick-up needs an assigned courier, and only that courier; deliver only by that courier', () => {
    const readyNoCourier = foldOrder([...PATHS.accepted, { type: 'OrderReady', data: { orderId } }]);
    assert.equal(code({ type: 'pick-up', by: courier1 }, readyNoCourier), 'ORDER_COURIER_NOT_ASSIGNED');
    assert.equal(code({ type: 'pick-up', by: courier2 }, stateAt('ready')), 'NOT_FOUND');
    assert.equal(code({ type: 'deliver', by: courier2 }, stateAt('picked_up')), 'NOT_FOUND');
    assert.equal(code({ type: 'pick-up', by: staff }, stateAt('ready')), 'FORBIDDEN');
    assert.equal(code({ type: 'deliver', by: admin }, stateAt('picked_up')), 'FORBIDDEN');
  });

  test('unassign-courier (the pick-up deadline, missed): only that courier by that assignment, before the pick-up, by delivery only', () => {
    const unassign = (courierId: string, assignment: number, by: CommandActor = system): OrderCommand => ({ type: 'unassign-courier', by, courierId, assignment, reason: 'not picked up in time' });
    const ready = stateAt('ready');
    assert.equal(ready.assignments, 1);
    const events = decide(unassign(courier1.id, 1), ready);
    assert.deepEqual(events, [{ type: 'CourierUnassigned', data: { orderId, courierId: courier1.id, assignment: 1, reason: 'not picked up in time' } }]);
    const after = foldOrder(events, ready);
    assert.deepEqual([after.status, after.courierId, after.assignments], ['ready', null, 1], 'ready, no courier; the next assignment is number 2');
    assert.deepEqual(decide(unassign(courier1.id, 1), after), [], 'already taken off');
    assert.deepEqual(decide({ type: 'assign-courier', by: system, courierId: courier2.id }, after), [{ type: 'CourierAssigned', data: { orderId, courierId: courier2.id, assignment: 2 } }], 'dispatch assigns another');
    // Reassigned: another courier, or the same one given the order again (a new assignment, its own deadline).
    const toCourier2 = foldOrder(decide({ type: 'assign-courier', by: staff, courierId: courier2.id }, ready), ready);
    assert.deepEqual(decide(unassign(courier1.id, 1), toCourier2), []);
    const backToCourier1 = foldOrder(decide({ type: 'assign-courier', by: staff, courierId: courier1.id }, toCourier2), toCourier2);
    assert.deepEqual(decide(unassign(courier1.id, 1), backToCourier1), [], 'assignment 1 is over: courier1 holds the order by assignment 3');
    assert.equal(decide(unassign(courier1.id, 3), backToCourier1).length, 1);
    // Picked up in time, or the order over: refused (delivery's deadline then does nothing).
    for (const status of ['picked_up', 'delivered', 'cancelled', 'rejected'] as const) assert.equal(code(unassign(courier1.id, 1), stateAt(status)), 'ORDER_TRANSITION_FORBIDDEN', status);
    for (const by of [staff, admin, courier1, customer]) assert.equal(code(unassign(courier1.id, 1, by), ready), 'FORBIDDEN', by.kind);
  });

  test('a courier never cancels; assigning the courier already assigned appends nothing; reassigning replaces', () => {
    assert.equal(code({ type: 'cancel', by: courier1, reason: '' }, stateAt('ready')), 'FORBIDDEN');
    assert.deepEqual(decide({ type: 'assign-courier', by: staff, courierId: courier1.id }, stateAt('ready')), []);
    // In any status: delivery's notice sent again after the pick-up is done, not refused.
    for (const status of ['picked_up', 'delivered'] as const) assert.deepEqual(decide({ type: 'assign-courier', by: system, courierId: courier1.id }, stateAt(status)), [], status);
    assert.equal(code({ type: 'assign-courier', by: system, courierId: courier2.id }, stateAt('picked_up')), 'ORDER_TRANSITION_FORBIDDEN', 'another courier still is refused');
    // Only delivery's notice: staff or an admin assigning the same courier to a finished order is outside
    // the lifecycle (found by a review: it answered 200, unchanged, where any other assignment gets 422).
    for (const by of [staff, admin]) {
      for (const status of ['picked_up', 'delivered'] as const) assert.equal(code({ type: 'assign-courier', by, courierId: courier1.id }, stateAt(status)), 'ORDER_TRANSITION_FORBIDDEN', `${by.kind} ${status}`);
    }
    const reassigning = decide({ type: 'assign-courier', by: system, courierId: courier2.id }, stateAt('ready'));
    const reassigned = foldOrder(reassigning, stateAt('ready'));
    assert.equal(reassigned.courierId, courier2.id);
    // Assignments are numbered from the stream (delivery orders them by it, not by message ids' clocks).
    assert.deepEqual([stateAt('ready').assignments, reassigning[0]?.data, reassigned.assignments], [1, { orderId, courierId: courier2.id, assignment: 2 }, 2]);
  });

  test('evolve folds the whole lifecycle into the state GET returns', () => {
    const delivered = foldOrder([...PATHS.delivered.slice(0, 2), { type: 'ItemPrepared', data: { orderId, lineId: line2 } }, ...PATHS.delivered.slice(2)]);
    assert.equal(delivered.status, 'delivered');
    assert.equal(delivered.courierId, courier1.id);
    assert.deepEqual(delivered.preparedLineIds, [line2]);
    assert.equal(delivered.total, 3250);
    const accepted = foldOrder(decide({ type: 'accept', by: staff, etaMinutes: 25 }, stateAt('placed')), stateAt('placed'));
    assert.equal(accepted.etaMinutes, 25);
    const cancelled = foldOrder(decide({ type: 'cancel', by: staff, reason: 'no courier' }, stateAt('ready')), stateAt('ready'));
    assert.deepEqual([cancelled.status, cancelled.cancelledBy, cancelled.cancelReason], ['cancelled', 'staff', 'no courier']);
    assert.equal(evolve(delivered, { type: 'SomethingNew', data: {} } as unknown as OrderEvent), delivered, 'an unknown event type leaves the state as it is');
  });

  test('a dispatch alert: by the system only, while accepted or ready without a courier; recorded once; a courier assigned clears it', () => {
    const alert = { alertId: 'a-1', attempts: 8, reason: 'no courier available in Porto after 8 attempts', raisedAt: '2025-01-01T20:00:00.000Z' };
    const raise = { type: 'raise-dispatch-alert' as const, by: system, ...alert };
    const readyNoCourier = foldOrder([...PATHS.accepted, { type: 'OrderReady', data: { orderId } }]);
    assert.deepEqual(decide(raise, readyNoCourier), [{ type: 'DispatchAlertRaised', data: { orderId, ...alert } }]);
    assert.equal(decide(raise, stateAt('accepted'))[0]?.type, 'DispatchAlertRaised');
    assert.deepEqual(
      STATUSES.filter((status) => status !== 'accepted' && status !== 'ready').map((status) => code(raise, stateAt(status))),
      [N, X, X, X, X, X],
      'not for an order that does not exist, is not accepted yet, or no longer waits for a courier',
    );
    assert.equal(code({ ...raise, by: staff }, readyNoCourier), 'FORBIDDEN');
    const alerted = foldOrder(decide(raise, readyNoCourier), readyNoCourier);
    assert.deepEqual(alerted.dispatchAlert, alert);
    assert.deepEqual(decide(raise, alerted), [], 'the same alert again (a redelivery) appends nothing');
    assert.equal(decide({ ...raise, alertId: 'a-2' }, alerted)[0]?.type, 'DispatchAlertRaised', 'a new alert (after a redrive) is recorded');
    const later = { ...raise, alertId: 'a-3', attempts: 16, raisedAt: '2025-01-01T21:00:00.000Z' };
    const alertedLater = foldOrder(decide(later, alerted), alerted);
    assert.deepEqual(decide(raise, alertedLater), [], 'an earlier alert delivered again after a later one appends nothing');
    assert.equal(alertedLater.dispatchAlert?.attempts, 16);
    assert.deepEqual(decide(raise, stateAt('ready')), [], 'moot when a courier is assigned by now');
    const assigned = foldOrder(decide({ type: 'assign-courier', by: staff, courierId: courier2.id }, alerted), alerted);
    assert.deepEqual([assigned.courierId, assigned.dispatchAlert], [courier2.id, null]);
  });
});
