import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { UnprocessableError } from '../../../src/platform/errors/index.ts';
import { orderCommands } from '../../../src/services/ordering/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from './support.ts';

describe("ordering's command adapter for other services", () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    r = await seedRestaurant(t, 'Adapter');
  });
  after(async () => {
    await t.close();
  });

  test("dispatch's assignment never overwrites a courier staff chose meanwhile: ORDER_COURIER_TAKEN (422), and the order keeps staff's courier", async () => {
    const c = await customer(t);
    const [chosen, dispatched] = [await courier(t), await courier(t)];
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const orderId = placed.json().id as string;
    assert.equal((await command(t, r.staff, orderId, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, orderId, 'assign-courier', 2, { courierId: chosen.id })).statusCode, 200);

    const orders = orderCommands(t.platform.deps, 'delivery-dispatch');
    await assert.rejects(orders.assignCourier({ restaurantId: r.rid, orderId, courierId: dispatched.id }), (e: unknown) => e instanceof UnprocessableError && e.code === 'ORDER_COURIER_TAKEN');
    await orders.assignCourier({ restaurantId: r.rid, orderId, courierId: chosen.id }); // the same courier: nothing to do
    const order = await t.request({ url: `/v1/orders/${orderId}`, token: r.staff });
    assert.deepEqual([order.json().courierId, order.json().version], [chosen.id, 3]);
  });

  test("expireOrder cancels only a placed order, and answers the status with the order's courier: for a delivered order the one who delivered it (the payment saga pays them when the order's own events never reached it)", async () => {
    const c = await customer(t);
    const k = await courier(t);
    const orders = orderCommands(t.platform.deps, 'payments-saga');
    const expire = (orderId: string) => orders.expireOrder({ restaurantId: r.rid, orderId, reason: 'payment: not accepted in time' });
    const placed = (await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 3', lines: [{ itemId: r.cola, quantity: 1 }] })).json().id as string;
    assert.deepEqual(await expire(placed), { status: 'cancelled', courierId: null });
    assert.deepEqual(await expire(placed), { status: 'cancelled', courierId: null }, 'again: already cancelled');

    const delivered = (await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 4', lines: [{ itemId: r.cola, quantity: 1 }] })).json().id as string;
    assert.equal((await command(t, r.staff, delivered, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, delivered, 'assign-courier', 2, { courierId: k.id })).statusCode, 200);
    assert.equal((await command(t, r.staff, delivered, 'ready', 3)).statusCode, 200);
    assert.equal((await command(t, k.token, delivered, 'pick-up', 4)).statusCode, 200);
    assert.equal((await command(t, k.token, delivered, 'deliver', 5)).statusCode, 200);
    assert.deepEqual(await expire(delivered), { status: 'delivered', courierId: k.id });
  });

  test("a command sent because of a message: its events name the message as their causation, in its correlation and trace; a cause that is not a UUID is left out, not refused", async () => {
    const c = await customer(t);
    const k = await courier(t);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 2', lines: [{ itemId: r.cola, quantity: 1 }] });
    const orderId = placed.json().id as string;
    assert.equal((await command(t, r.staff, orderId, 'accept', 1)).statusCode, 200);

    const orders = orderCommands(t.platform.deps, 'delivery-dispatch');
    const cause = { causationId: randomUUID(), correlationId: randomUUID(), traceparent: '00-7bf92f3577b34da6a3ce929d0e0e4736-30f067aa0ba902b7-01' };
    await orders.assignCourier({ restaurantId: r.rid, orderId, courierId: k.id }, cause);
    await orders.cancelOrder({ restaurantId: r.rid, orderId, reason: 'test' }, { causationId: 'message-1', correlationId: '', traceparent: 'not a trace' });

    type Metadata = { messageId: string; correlationId: string; causationId: string | null; extra?: Record<string, unknown> };
    const events = (await t.request({ url: `/v1/orders/${orderId}/events`, token: r.staff })).json().events as Array<{ type: string; metadata: Metadata }>;
    const [assigned, cancelled] = [events.find((e) => e.type === 'CourierAssigned')!.metadata, events.find((e) => e.type === 'OrderCancelled')!.metadata];
    assert.deepEqual([assigned.causationId, assigned.correlationId, assigned.extra?.traceparent], [cause.causationId, cause.correlationId, cause.traceparent]);
    assert.deepEqual([cancelled.causationId, cancelled.correlationId, cancelled.extra], [null, cancelled.messageId, undefined], 'no cause: a correlation of its own, as before');
  });
});
