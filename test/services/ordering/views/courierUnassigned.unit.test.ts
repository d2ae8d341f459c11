import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { FoldEvent } from '../../../../src/platform/events/index.ts';
import type { RowState } from '../../../../src/platform/projections/index.ts';
import { evolveBoard, evolveCourierTask, evolveCustomerOrder } from '../../../../src/services/ordering/views/index.ts';
import { foldEventOf } from './support.ts';

const tenantId = randomUUID();
const orderId = randomUUID();
const [k, m] = [randomUUID(), randomUUID()];
const fold = foldEventOf(tenantId, orderId);
const events = [
  fold('OrderPlaced', { restaurantId: tenantId, customerId: randomUUID(), lines: [], total: 0, currency: 'EUR', deliveryAddress: 'Rua 9', placedAt: '2026-12-07T12:01:00.000Z' }, 1),
  fold('OrderAccepted', {}, 2),
  fold('OrderReady', {}, 3),
  fold('CourierAssigned', { courierId: k, assignment: 1 }, 4),
  fold('CourierUnassigned', { courierId: k, assignment: 1, reason: 'not picked up in time' }, 5),
];
const run = (evolve: (row: RowState | null, event: FoldEvent) => RowState | undefined, list: readonly FoldEvent[]) =>
  list.reduce<RowState | null>((row, event) => evolve(row, event) ?? row, null)!;

test('CourierUnassigned (the pick-up deadline, missed): the board and the courier task-list show the order without a courier, ready, at the new version', () => {
  const board = run(evolveBoard, events);
  assert.deepEqual([board.courier_id, board.status, board.version], [null, 'ready', 5]);
  const task = run(evolveCourierTask, events);
  assert.deepEqual([task.courier_id, task.assigned_at, task.status, task.version], [null, null, 'ready', 5], 'out of the courier task-list of the one who missed it');
  assert.equal(run(evolveCustomerOrder, events).version, 5, 'the customer’s row moves on with the stream');
  // A CourierUnassigned of a courier the row no longer names (an old assignment) leaves the courier.
  const reassigned = [...events.slice(0, 4), fold('CourierAssigned', { courierId: m, assignment: 2 }, 5), fold('CourierUnassigned', { courierId: k, assignment: 1, reason: 'x' }, 6)];
  assert.equal(run(evolveBoard, reassigned).courier_id, m);
  assert.equal(run(evolveCourierTask, reassigned).courier_id, m);
});
