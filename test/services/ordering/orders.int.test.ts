import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { command, courier, customer, holdTable, placeOrder, seedRestaurant, withTableHeld, type SeededRestaurant } from './support.ts';

const POSITION = /^\d+\.\d+$/;

describe('ordering: the order lifecycle over HTTP', () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    r = await seedRestaurant(t, 'Lifecycle');
  });
  after(async () => {
    await t.close();
  });

  const orderOf = (c: { token: string }, extra: Record<string, unknown> = {}) =>
    placeOrder(t, c.token, {
      restaurantId: r.rid,
      deliveryAddress: 'Rua das Flores 10, Porto',
      lines: [
        { itemId: r.pizza, quantity: 2, modifierIds: [r.large, r.olives] },
        { itemId: r.cola, quantity: 3 },
      ],
      ...extra,
    });

  test('full lifecycle: place → accept → prepare each line → ready → assign → pick-up → deliver, each answer with version, ETag and position', async () => {
    const c = await customer(t);
    const k = await courier(t);
    const placed = await orderOf(c);
    assert.equal(placed.statusCode, 201, placed.body);
    const order = placed.json();
    assert.equal(placed.headers.etag, '"1"');
    assert.equal(placed.headers.location, `/v1/orders/${order.id}`);
    assert.deepEqual([order.status, order.version, order.customerId, order.restaurantId, order.currency], ['placed', 1, c.id, r.rid, 'EUR']);
    assert.match(order.position, POSITION);

    let version = 1;
    const step = async (token: string, name: string, payload?: Record<string, unknown>) => {
      const res = await command(t, token, order.id, name, version, payload);
      assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
      assert.equal(res.json().version, version + 1);
      assert.equal(res.headers.etag, `"${version + 1}"`);
      assert.match(res.json().position, POSITION);
      version += 1;
      return res.json();
    };
    assert.equal((await step(r.staff, 'accept', { etaMinutes: 20 })).etaMinutes, 20);
    for (const line of order.lines as Array<{ lineId: string }>) await step(r.staff, 'mark-item-prepared', { lineId: line.lineId });
    assert.equal((await step(r.staff, 'ready')).status, 'ready');
    assert.equal((await step(r.staff, 'assign-courier', { courierId: k.id })).courierId, k.id);
    assert.equal((await step(k.token, 'pick-up')).status, 'picked_up');
    const delivered = await step(k.token, 'deliver');
    assert.equal(delivered.status, 'delivered');
    assert.deepEqual(delivered.preparedLineIds, order.lines.map((l: { lineId: string }) => l.lineId));

    const events = (await t.request({ url: `/v1/orders/${order.id}/events`, token: c.token })).json();
    assert.deepEqual(
      events.events.map((e: { type: string }) => e.type),
      ['OrderPlaced', 'OrderAccepted', 'ItemPrepared', 'ItemPrepared', 'OrderReady', 'CourierAssigned', 'OrderPickedUp', 'OrderDelivered'],
    );
    assert.equal(events.version, 8);
  });

  test('lines record item id, version and price at placement; the total is the sum of the lines; a later price change alters nothing placed', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    assert.deepEqual(
      order.lines.map((l: Record<string, unknown>) => [l.itemId, l.itemVersion, l.name, l.unitPrice, l.quantity, l.lineTotal]),
      [
        [r.pizza, 1, 'Margherita', 1000, 2, (1000 + 300 + 100) * 2],
        [r.cola, 1, 'Cola', 250, 3, 750],
      ],
    );
    assert.deepEqual(order.lines[0].modifiers.map((m: { modifierId: string; priceDelta: number }) => [m.modifierId, m.priceDelta]), [
      [r.large, 300],
      [r.olives, 100],
    ]);
    assert.equal(order.total, 2800 + 750);

    const patch = await t.request({ method: 'PATCH', url: `/v1/restaurants/${r.rid}/menu/items/${r.pizza}`, token: r.staff, headers: { 'if-match': '"1"' }, payload: { price: 1200 } });
    assert.equal(patch.statusCode, 200, patch.body);
    const reread = (await t.request({ url: `/v1/orders/${order.id}`, token: c.token })).json();
    assert.deepEqual([reread.lines[0].unitPrice, reread.lines[0].itemVersion, reread.total], [1000, 1, 3550], 'the placed order keeps its prices');
    const next = (await orderOf(c)).json();
    assert.deepEqual([next.lines[0].unitPrice, next.lines[0].itemVersion, next.total], [1200, 2, (1200 + 400) * 2 + 750], 'a new order gets the new price and version');
  });

  test('expectedTotal: a price changed since the customer looked gets 409 ORDER_TOTAL_CHANGED with the new prices, nothing written and the key left free; the new total places', async () => {
    const repriced = await seedRestaurant(t, 'Repriced');
    const c = await customer(t);
    const lines = [{ itemId: repriced.cola, quantity: 2 }];
    const shown = await placeOrder(t, c.token, { restaurantId: repriced.rid, deliveryAddress: 'Rua 2, Porto', lines, expectedTotal: 500 });
    assert.deepEqual([shown.statusCode, shown.json().total], [201, 500], shown.body);

    const patch = await t.request({ method: 'PATCH', url: `/v1/restaurants/${repriced.rid}/menu/items/${repriced.cola}`, token: repriced.staff, headers: { 'if-match': '"1"' }, payload: { price: 300 } });
    assert.equal(patch.statusCode, 200, patch.body);
    const key = randomUUID();
    const stale = await placeOrder(t, c.token, { restaurantId: repriced.rid, deliveryAddress: 'Rua 2, Porto', lines, expectedTotal: 500 }, key);
    assert.equal(stale.statusCode, 409, stale.body);
    assert.match(String(stale.headers['content-type']), /application\/problem\+json/);
    const problem = stale.json();
    assert.deepEqual([problem.code, problem.expectedTotal, problem.total, problem.currency], ['ORDER_TOTAL_CHANGED', 500, 600, 'EUR']);
    assert.deepEqual(problem.lines, [{ itemId: repriced.cola, itemVersion: 2, unitPrice: 300, lineTotal: 600 }]);
    const db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: number }>('select count(*)::int as n from ordering.order_index where customer_id = $1', [c.id]);
      assert.equal(rows[0]!.n, 1, 'the refused order wrote nothing');
    } finally {
      await db.end();
    }

    // The refused request claimed nothing: the same key with the new total places the order.
    const placed = await placeOrder(t, c.token, { restaurantId: repriced.rid, deliveryAddress: 'Rua 2, Porto', lines, expectedTotal: 600 }, key);
    assert.deepEqual([placed.statusCode, placed.json().total, placed.json().lines[0].itemVersion], [201, 600, 2], placed.body);
    const bad = await placeOrder(t, c.token, { restaurantId: repriced.rid, deliveryAddress: 'Rua 2, Porto', lines, expectedTotal: -1 });
    assert.deepEqual([bad.statusCode, bad.json().code, bad.json().field], [400, 'VALIDATION_FAILED', 'body.expectedTotal']);
  });

  test('the menu refuses what it cannot sell: unknown, deleted or sold-out items, modifiers outside a group’s min/max or not offered (422); unknown restaurant (404)', async () => {
    const c = await customer(t);
    const codeOf = async (lines: unknown[], restaurantId = r.rid) => {
      const res = await placeOrder(t, c.token, { restaurantId, deliveryAddress: 'x', lines });
      return [res.statusCode, res.json().code];
    };
    assert.deepEqual(await codeOf([{ itemId: randomUUID(), quantity: 1 }]), [422, 'MENU_ITEM_UNAVAILABLE']);
    const blank = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ' \t ', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.deepEqual([blank.statusCode, blank.json().field], [400, 'body.deliveryAddress'], 'a blank address is no address');
    assert.deepEqual(await codeOf([{ itemId: r.pizza, quantity: 1 }]), [422, 'MODIFIER_CHOICE_INVALID'], 'Size needs one choice');
    assert.deepEqual(await codeOf([{ itemId: r.pizza, quantity: 1, modifierIds: [r.small, r.large] }]), [422, 'MODIFIER_CHOICE_INVALID'], 'Size allows one');
    assert.deepEqual(await codeOf([{ itemId: r.cola, quantity: 1, modifierIds: [r.olives] }]), [422, 'MODIFIER_CHOICE_INVALID'], 'cola offers no olives');
    assert.deepEqual(await codeOf([{ itemId: r.pizza, quantity: 1, modifierIds: [r.small, r.olives, r.basil] }]), [201, undefined], 'two extras are allowed');
    assert.deepEqual(await codeOf([{ itemId: r.cola, quantity: 1 }], randomUUID()), [404, 'NOT_FOUND']);

    const other = await seedRestaurant(t, 'Menu rules');
    assert.equal((await t.request({ method: 'PATCH', url: `/v1/restaurants/${other.rid}/menu/items/${other.cola}`, token: other.staff, headers: { 'if-match': '"1"' }, payload: { soldOut: true } })).statusCode, 200);
    assert.deepEqual(await codeOf([{ itemId: other.cola, quantity: 1 }], other.rid), [422, 'MENU_ITEM_SOLD_OUT']);
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/restaurants/${other.rid}/menu/items/${other.pizza}`, token: other.staff, headers: { 'if-match': '"1"' } })).statusCode, 200);
    assert.deepEqual(await codeOf([{ itemId: other.pizza, quantity: 1, modifierIds: [other.small] }], other.rid), [422, 'MENU_ITEM_UNAVAILABLE']);
    assert.deepEqual(await codeOf([{ itemId: r.cola, quantity: 1 }], other.rid), [422, 'MENU_ITEM_UNAVAILABLE'], "another restaurant's item");
  });

  test('transitions outside the lifecycle get 422: deliver before pick-up, customer cancel after accept, staff cancel after pick-up, accept twice', async () => {
    const c = await customer(t);
    const k = await courier(t);
    const order = (await orderOf(c)).json();
    const expect422 = async (token: string, name: string, version: number, status: string, payload?: Record<string, unknown>) => {
      const res = await command(t, token, order.id, name, version, payload);
      assert.deepEqual([res.statusCode, res.json().status, res.json().code, res.json().orderStatus, res.json().command], [422, 422, 'ORDER_TRANSITION_FORBIDDEN', status, name], res.body);
      assert.match(res.json().detail, new RegExp(`${name}.*${status}`));
    };
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    await expect422(r.staff, 'accept', 2, 'accepted');
    await expect422(c.token, 'cancel', 2, 'accepted', { reason: 'too slow' });
    assert.equal((await command(t, r.staff, order.id, 'assign-courier', 2, { courierId: k.id })).statusCode, 200);
    await expect422(k.token, 'deliver', 3, 'accepted');
    await expect422(k.token, 'pick-up', 3, 'accepted');
    assert.equal((await command(t, r.staff, order.id, 'ready', 3)).statusCode, 200);
    assert.equal((await command(t, k.token, order.id, 'pick-up', 4)).statusCode, 200);
    await expect422(r.staff, 'cancel', 5, 'picked_up', { reason: 'x' });
    const current = (await t.request({ url: `/v1/orders/${order.id}`, token: c.token })).json();
    assert.deepEqual([current.status, current.version], ['picked_up', 5], 'refused commands appended nothing');

    const early = (await orderOf(c)).json();
    const cancelled = await command(t, c.token, early.id, 'cancel', 1, { reason: 'changed my mind' });
    assert.deepEqual([cancelled.statusCode, cancelled.json().status, cancelled.json().cancelledBy], [200, 'cancelled', 'customer'], 'a customer cancels before accept');
    const staffCancel = (await orderOf(c)).json();
    assert.equal((await command(t, r.staff, staffCancel.id, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, staffCancel.id, 'ready', 2)).statusCode, 200);
    assert.deepEqual((await command(t, r.staff, staffCancel.id, 'cancel', 3, { reason: 'no courier' })).json().cancelledBy, 'staff', 'staff cancel before pick-up');
  });

  test('reject needs a reason the customer can read: a blank one gets 400 naming body.reason, and the order stays placed', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    for (const reason of ['   ', '\t\n']) {
      const res = await command(t, r.staff, order.id, 'reject', 1, { reason });
      assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'VALIDATION_FAILED', 'body.reason'], res.body);
    }
    assert.equal((await t.request({ url: `/v1/orders/${order.id}`, token: c.token })).json().status, 'placed');
    const rejected = await command(t, r.staff, order.id, 'reject', 1, { reason: 'out of dough' });
    assert.deepEqual([rejected.statusCode, rejected.json().status], [200, 'rejected'], rejected.body);
  });

  test('reject and cancel reasons follow the one-line name rule: a control character, a bidi override, a lone CR, a line break or an invisible-only reason gets 400 naming body.reason, the order still placed; no reason, an empty one or the board\'s own still cancels', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    // Before: 200, and the customer's tracking page showed "Rejected — " with the ESC sequence, the reversed text, or nothing.
    for (const reason of ['\u001b[31mX', 'ok \u202eevil', 'a\rB', 'one\ntwo', '\u0085', '\u200B', '\u2060', ' late']) {
      for (const [who, token, name] of [['staff', r.staff, 'reject'], ['staff', r.staff, 'cancel'], ['customer', c.token, 'cancel']] as const) {
        const res = await command(t, token, order.id, name, 1, { reason });
        assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'VALIDATION_FAILED', 'body.reason'], `${who} ${name} ${JSON.stringify(reason)}: ${res.body}`);
        assert.match(res.json().detail, /^body\.reason .*must not be blank, start or end with a space or an invisible character, nor hold a control or bidi-override character/, res.body);
      }
    }
    const current = (await t.request({ url: `/v1/orders/${order.id}`, token: c.token })).json();
    assert.deepEqual([current.status, current.version], ['placed', 1], 'nothing appended');
    // The cancel reason stays optional: absent, empty, or the board's canned one (web/board.js CANCEL_REASON).
    for (const payload of [undefined, {}, { reason: '' }, { reason: 'Cancelled by the restaurant' }]) {
      const placed = (await orderOf(c)).json();
      const res = await command(t, r.staff, placed.id, 'cancel', 1, payload);
      assert.deepEqual([res.statusCode, res.json().status, res.json().cancelReason], [200, 'cancelled', (payload as { reason?: string } | undefined)?.reason ?? ''], `${JSON.stringify(payload)}: ${res.body}`);
    }
  });

  test('an order whose courier vanished after the pick-up: staff, the customer and admin deliver are refused; an admin cancels it with a reason, and the courier who had it is recorded', async () => {
    const c = await customer(t);
    const k = await courier(t);
    const admin = await t.token('admin', { subject: 'ops' });
    const order = (await orderOf(c)).json();
    for (const [token, name, version, payload] of [
      [r.staff, 'accept', 1, {}],
      [r.staff, 'assign-courier', 2, { courierId: k.id }],
      [r.staff, 'ready', 3, {}],
      [k.token, 'pick-up', 4, {}],
    ] as const) assert.equal((await command(t, token, order.id, name, version, payload)).statusCode, 200, name);
    const staffCancel = await command(t, r.staff, order.id, 'cancel', 5, { reason: 'courier gone' });
    assert.deepEqual([staffCancel.statusCode, staffCancel.json().code], [422, 'ORDER_TRANSITION_FORBIDDEN'], staffCancel.body);
    assert.match(staffCancel.json().detail, /with its courier and can no longer be changed.*an admin/);
    assert.equal((await command(t, c.token, order.id, 'cancel', 5, { reason: 'where is it' })).statusCode, 422);
    assert.equal((await command(t, admin, order.id, 'deliver', 5)).statusCode, 403, 'deliver stays the courier\'s');
    for (const payload of [{}, { reason: '' }]) {
      const reasonless = await command(t, admin, order.id, 'cancel', 5, payload);
      assert.deepEqual([reasonless.statusCode, reasonless.json().code, reasonless.json().field], [422, 'ORDER_CANCEL_REASON_REQUIRED', 'body.reason'], reasonless.body);
    }
    // A reason the customer cannot read is refused by the body's rule first (before: a lone U+200B cancelled it, 200).
    for (const reason of [' ', '\u200B', '\u200B \u2060']) {
      const unreadable = await command(t, admin, order.id, 'cancel', 5, { reason });
      assert.deepEqual([unreadable.statusCode, unreadable.json().code, unreadable.json().field], [400, 'VALIDATION_FAILED', 'body.reason'], unreadable.body);
    }
    const lost = await command(t, admin, order.id, 'cancel', 5, { reason: 'lost in transit: courier unreachable' });
    assert.equal(lost.statusCode, 200, lost.body);
    assert.deepEqual([lost.json().status, lost.json().cancelledBy, lost.json().cancelReason, lost.json().version], ['cancelled', 'admin', 'lost in transit: courier unreachable', 6]);
    const events = (await t.request({ url: `/v1/orders/${order.id}/events`, token: admin })).json().events as Array<{ type: string; data: Record<string, unknown> }>;
    assert.deepEqual(events.at(-1), { ...events.at(-1), type: 'OrderCancelled', data: { orderId: order.id, by: 'admin', reason: 'lost in transit: courier unreachable', pickedUpBy: k.id } });
    const late = await command(t, k.token, order.id, 'deliver', 6);
    assert.deepEqual([late.statusCode, late.json().detail], [422, 'Cannot deliver an order that is cancelled: the order is finished and can no longer be changed'], 'the courier who turns up later is told it is over');
  });

  test('assign-courier takes only a courier the directory knows, of the restaurant\'s city: else 422 naming courierId, and nothing appended', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    const refused = async (courierId: string, code: string) => {
      const res = await command(t, r.staff, order.id, 'assign-courier', 2, { courierId });
      assert.deepEqual([res.statusCode, res.json().code, res.json().field, res.headers['content-type']], [422, code, 'body.courierId', 'application/problem+json; charset=utf-8'], res.body);
      return res.json();
    };
    assert.match((await refused(randomUUID(), 'COURIER_UNKNOWN')).detail, /assign the id of a courier/);
    const lisbon = await courier(t, 'Lisbon');
    const elsewhere = await refused(lisbon.id, 'COURIER_OTHER_CITY');
    assert.deepEqual([elsewhere.courierCity, elsewhere.restaurantCity], ['Lisbon', 'Porto']);
    assert.equal((await t.request({ url: `/v1/orders/${order.id}`, token: c.token })).json().version, 2, 'refused assignments appended nothing');
    const porto = await courier(t);
    const assigned = await command(t, r.staff, order.id, 'assign-courier', 2, { courierId: porto.id });
    assert.deepEqual([assigned.statusCode, assigned.json().courierId], [200, porto.id]);
  });

  test('If-Match: missing → 428, stale → 412 with the current version and order; roles that may never send a command → 403', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    const missing = await command(t, r.staff, order.id, 'accept', null);
    assert.deepEqual([missing.statusCode, missing.json().code], [428, 'PRECONDITION_REQUIRED']);
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    const stale = await command(t, r.staff, order.id, 'ready', 1);
    assert.deepEqual([stale.statusCode, stale.json().code, stale.json().currentVersion, stale.json().current.status], [412, 'CONCURRENCY_CONFLICT', 2, 'accepted']);
    assert.deepEqual([stale.headers.etag, stale.json().expected, stale.json().actual], ['"2"', 1, 2], 'the ETag of the current version, and versions as numbers');
    assert.equal((await command(t, c.token, order.id, 'accept', 2)).statusCode, 403, 'a customer cannot accept');
    const k = await courier(t);
    assert.equal((await command(t, k.token, order.id, 'ready', 2)).statusCode, 403, 'a courier cannot mark ready');
  });

  test('assign-courier with a stale If-Match naming a courier the directory does not know (or of another city): 412 first, as every command', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    const lisbon = await courier(t, 'Lisbon');
    for (const courierId of [randomUUID(), lisbon.id]) {
      const stale = await command(t, r.staff, order.id, 'assign-courier', 1, { courierId });
      assert.deepEqual([stale.statusCode, stale.json().code, stale.json().currentVersion], [412, 'CONCURRENCY_CONFLICT', 2], stale.body);
    }
    // At the current version the directory is asked, and its refusal stands.
    const unknown = await command(t, r.staff, order.id, 'assign-courier', 2, { courierId: randomUUID() });
    assert.deepEqual([unknown.statusCode, unknown.json().code], [422, 'COURIER_UNKNOWN'], unknown.body);
  });

  test("another restaurant's staff, and any staff for an order that does not exist, get 404 before If-Match (428, 400) and the courier check (422)", async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    const other = await seedRestaurant(t, 'Next door');
    const k = await courier(t);
    for (const [who, id] of [['other staff', order.id], ['own staff, no such order', randomUUID()]] as const) {
      const token = who === 'other staff' ? other.staff : r.staff;
      const noIfMatch = await command(t, token, id, 'accept', null);
      assert.deepEqual([noIfMatch.statusCode, noIfMatch.json().code], [404, 'NOT_FOUND'], `${who}, no If-Match: ${noIfMatch.body}`);
      const malformed = await t.request({ method: 'POST', url: `/v1/orders/${id}/ready`, token, headers: { 'if-match': '*' } });
      assert.deepEqual([malformed.statusCode, malformed.json().code], [404, 'NOT_FOUND'], `${who}, If-Match *: ${malformed.body}`);
      const assign = await command(t, token, id, 'assign-courier', 1, { courierId: randomUUID() });
      assert.deepEqual([assign.statusCode, assign.json().code], [404, 'NOT_FOUND'], `${who}, unknown courier: ${assign.body}`);
      const assignNoIfMatch = await command(t, token, id, 'assign-courier', null, { courierId: k.id });
      assert.deepEqual([assignNoIfMatch.statusCode, assignNoIfMatch.json().code], [404, 'NOT_FOUND'], `${who}, assign without If-Match: ${assignNoIfMatch.body}`);
    }
    // The restaurant's own staff still hear 428 and 400 for their order, and nothing was appended.
    assert.equal((await command(t, r.staff, order.id, 'accept', null)).statusCode, 428);
    const own = await t.request({ method: 'POST', url: `/v1/orders/${order.id}/accept`, token: r.staff, headers: { 'if-match': '*' } });
    assert.deepEqual([own.statusCode, own.json().field], [400, 'If-Match']);
    assert.equal((await t.request({ url: `/v1/orders/${order.id}`, token: c.token })).json().version, 1);
  });

  test('two commands on one order at the same version, forced to both read it before either appends: exactly one wins, the other gets 412', async () => {
    const c = await customer(t);
    const order = (await orderOf(c)).json();
    const otherStaff = await t.token('staff', { restaurantId: r.rid, subject: randomUUID() });
    // Both transactions read version 1 and decide; the share lock on the events table holds both appends.
    const [accept, reject] = await withTableHeld(t, 'ordering.events', 2, () =>
      Promise.all([command(t, r.staff, order.id, 'accept', 1), command(t, otherStaff, order.id, 'reject', 1, { reason: 'closing' })]),
    );
    assert.deepEqual([accept.statusCode, reject.statusCode].sort(), [200, 412], `${accept.body} ${reject.body}`);
    const [winner, loser] = accept.statusCode === 200 ? [accept, reject] : [reject, accept];
    assert.equal(loser.json().code, 'CONCURRENCY_CONFLICT');
    assert.equal(loser.json().currentVersion, 2);
    assert.equal(loser.json().current.status, winner.json().status);
    const events = (await t.request({ url: `/v1/orders/${order.id}/events`, token: r.staff })).json();
    assert.equal(events.events.length, 2, 'one event appended, not two');
  });

  test('GET /v1/orders/:id: its customer, the restaurant’s staff, the assigned courier and admin read it; anyone else gets 404', async () => {
    const c = await customer(t);
    const k = await courier(t);
    const order = (await orderOf(c)).json();
    const other = await seedRestaurant(t, 'Elsewhere');
    const strangers = {
      'another customer': (await customer(t)).token,
      "another restaurant's staff": other.staff,
      'a courier before assignment': k.token,
      'an unassigned courier': (await courier(t)).token,
    };
    const get = (token: string) => t.request({ url: `/v1/orders/${order.id}`, token });
    assert.equal((await get(strangers['a courier before assignment'])).statusCode, 404);
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, order.id, 'assign-courier', 2, { courierId: k.id })).statusCode, 200);
    const readers = { customer: c.token, staff: r.staff, 'assigned courier': k.token, admin: await t.token('admin', { subject: 'ops' }) };
    for (const [who, token] of Object.entries(readers)) {
      const res = await get(token);
      assert.deepEqual([res.statusCode, res.json().id, res.headers.etag], [200, order.id, '"3"'], who);
      assert.equal((await t.request({ url: `/v1/orders/${order.id}/events`, token })).statusCode, 200, `${who} reads the events`);
    }
    for (const [who, token] of Object.entries({ ...strangers, 'a courier before assignment': undefined })) {
      if (token === undefined) continue;
      const res = await get(token);
      assert.deepEqual([res.statusCode, res.json().code], [404, 'NOT_FOUND'], who);
      assert.equal((await t.request({ url: `/v1/orders/${order.id}/events`, token })).statusCode, 404, `${who}: events`);
      assert.equal((await command(t, token, order.id, 'cancel', 3, { reason: 'x' })).statusCode, who.includes('courier') ? 403 : 404, `${who}: cancel`);
    }
    assert.equal((await t.request({ url: `/v1/orders/${order.id}` })).statusCode, 401);
    assert.equal((await t.request({ url: `/v1/orders/${randomUUID()}`, token: readers.admin })).statusCode, 404);
    assert.equal((await command(t, strangers['an unassigned courier'], order.id, 'pick-up', 3)).statusCode, 404, 'an unassigned courier cannot pick up');
  });

  test("a courier's pick-up or deliver of an order no longer assigned to them (reassigned), or of none, is a 404 that says to refresh the task list without telling which; other roles' 404 is unchanged (before: a bare 'order <id> not found')", async () => {
    const c = await customer(t);
    const [k1, k2] = [await courier(t), await courier(t)];
    const order = (await orderOf(c)).json();
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, order.id, 'assign-courier', 2, { courierId: k1.id })).statusCode, 200);
    assert.equal((await command(t, r.staff, order.id, 'assign-courier', 3, { courierId: k2.id })).statusCode, 200);
    const ghost = randomUUID();
    const answers = [
      await command(t, k1.token, order.id, 'pick-up', 4),
      await command(t, k1.token, order.id, 'deliver', 4),
      await command(t, k1.token, ghost, 'pick-up', 1),
    ];
    const details = answers.map((res) => {
      assert.deepEqual([res.statusCode, res.json().code], [404, 'NOT_FOUND'], res.body);
      assert.match(res.json().detail, /not found, or no longer assigned to you.*refresh your task list/);
      return res.json().detail.replace(order.id, '<id>').replace(ghost, '<id>');
    });
    assert.deepEqual(new Set(details).size, 1, 'reassigned and non-existent read alike: nothing leaks');
    const staff = await command(t, r.staff, ghost, 'accept', 1);
    assert.deepEqual([staff.statusCode, staff.json().detail], [404, `order ${ghost} not found`]);
    assert.equal((await command(t, k2.token, order.id, 'pick-up', 4)).statusCode, 422, 'the new courier gets on with it (not ready yet)');
  });

  test("GET …/events to a customer or a courier names no one else who acted (nor, to a courier, the customer: not in the events, the order or a command's answer), nor a courier who no longer has the order; staff and admin see every id", async () => {
    const c = await customer(t);
    const k1 = await courier(t);
    const k2 = await courier(t);
    const order = (await orderOf(c)).json();
    assert.equal((await command(t, r.staff, order.id, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, order.id, 'assign-courier', 2, { courierId: k1.id })).statusCode, 200);
    const admin = await t.token('admin', { subject: 'alice.smith' });
    const reassigned = await command(t, admin, order.id, 'assign-courier', 3, { courierId: k2.id });
    assert.equal(reassigned.statusCode, 200, reassigned.body);
    const seen = async (token: string) =>
      ((await t.request({ url: `/v1/orders/${order.id}/events`, token })).json().events as Array<{ type: string; data: { courierId?: string | null }; metadata: { actor: unknown } }>).map((e) => [
        e.type,
        e.metadata.actor,
        ...(e.type === 'CourierAssigned' ? [e.data.courierId] : []),
      ]);
    const staffId = (await seen(r.staff))[1]![1] as { id: string };
    // Before: a customer read the admin's name, the staff member's id and the courier taken off the order.
    assert.deepEqual(await seen(c.token), [
      ['OrderPlaced', { kind: 'customer', id: c.id }],
      ['OrderAccepted', { kind: 'staff' }],
      ['CourierAssigned', { kind: 'staff' }, null],
      ['CourierAssigned', { kind: 'admin' }, k2.id],
    ]);
    assert.deepEqual(await seen(k2.token), [
      ['OrderPlaced', { kind: 'customer' }],
      ['OrderAccepted', { kind: 'staff' }],
      ['CourierAssigned', { kind: 'staff' }, null],
      ['CourierAssigned', { kind: 'admin' }, k2.id],
    ]);
    for (const token of [r.staff, admin]) {
      assert.deepEqual(await seen(token), [
        ['OrderPlaced', { kind: 'customer', id: c.id }],
        ['OrderAccepted', { kind: 'staff', id: staffId.id }],
        ['CourierAssigned', { kind: 'staff', id: staffId.id }, k1.id],
        ['CourierAssigned', { kind: 'admin', id: 'alice.smith' }, k2.id],
      ]);
    }

    // Nor the customer's id, anywhere in what the courier reads (before: OrderPlaced's data.customerId,
    // its metadata.encryption.keyId "customer:<id>", and the order's customerId all gave it).
    assert.equal((await command(t, r.staff, order.id, 'ready', 4)).statusCode, 200);
    const pickedUp = await command(t, k2.token, order.id, 'pick-up', 5);
    assert.equal(pickedUp.statusCode, 200, pickedUp.body);
    const stale = await command(t, k2.token, order.id, 'deliver', 5);
    assert.deepEqual([stale.statusCode, stale.json().current?.status], [412, 'picked_up'], stale.body);
    const courierEvents = await t.request({ url: `/v1/orders/${order.id}/events`, token: k2.token });
    const courierOrder = await t.request({ url: `/v1/orders/${order.id}`, token: k2.token });
    for (const [what, res] of Object.entries({ 'pick-up': pickedUp, '412': stale, events: courierEvents, order: courierOrder })) {
      assert.doesNotMatch(res.body, new RegExp(c.id), `the courier's ${what} names the customer`);
    }
    const placedSeen = courierEvents.json().events[0];
    assert.deepEqual([placedSeen.type, placedSeen.data.customerId, placedSeen.data.deliveryAddress, placedSeen.metadata.encryption], ['OrderPlaced', null, 'Rua das Flores 10, Porto', { keyId: null, fields: ['/deliveryAddress'] }]);
    assert.deepEqual([pickedUp.json().customerId, stale.json().current.customerId, courierOrder.json().customerId], [null, null, null]);
    assert.equal(courierOrder.json().deliveryAddress, 'Rua das Flores 10, Porto', 'the courier still reads where to deliver');
    for (const token of [c.token, r.staff, admin]) {
      assert.equal((await t.request({ url: `/v1/orders/${order.id}`, token })).json().customerId, c.id);
      const events = (await t.request({ url: `/v1/orders/${order.id}/events`, token })).json().events;
      assert.deepEqual([events[0].data.customerId, events[0].metadata.encryption.keyId], [c.id, `customer:${c.id}`]);
    }
  });

  test('recordedAt is never before occurredAt, even when the placing transaction waited on a lock before its append', async () => {
    const c = await customer(t);
    const held = await holdTable(t.db.url, 'ordering.idempotency_keys');
    let placed;
    try {
      const pending = orderOf(c);
      await held.waiters(1);
      await sleep(30); // the transaction began before this wait; its append is built after it
      await held.release();
      placed = await pending;
    } finally {
      await held.release();
    }
    assert.equal(placed.statusCode, 201, placed.body);
    const [event] = (await t.request({ url: `/v1/orders/${placed.json().id}/events`, token: c.token })).json().events;
    assert.ok(Date.parse(event.metadata.recordedAt) >= Date.parse(event.metadata.occurredAt), `recorded ${event.metadata.recordedAt}, occurred ${event.metadata.occurredAt}`);
  });

  test('GET /v1/orders/:id/events: the stream with its envelope: message id, correlation (the request id), causation, tenant, actor, source, times, position', async () => {
    const c = await customer(t);
    const requestId = randomUUID();
    const placed = await orderOf(c, {});
    const order = placed.json();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const accepted = await t.request({ method: 'POST', url: `/v1/orders/${order.id}/accept`, token: r.staff, headers: { 'if-match': '"1"', 'x-request-id': requestId, traceparent } });
    assert.equal(accepted.statusCode, 200, accepted.body);
    const res = await t.request({ url: `/v1/orders/${order.id}/events`, token: c.token });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual([body.orderId, body.version, res.headers.etag], [order.id, 2, '"2"']);
    const [first, second] = body.events;
    assert.equal(first.streamId, `order-${order.id}`);
    assert.deepEqual([first.streamVersion, first.type, first.schemaVersion], [1, 'OrderPlaced', 1]);
    assert.deepEqual(first.data.lines, order.lines);
    assert.equal(first.data.total, order.total);
    assert.match(first.metadata.messageId, /^[0-9a-f-]{36}$/);
    assert.equal(first.metadata.correlationId, placed.headers['x-request-id'], 'correlation = the placing request');
    assert.equal(first.metadata.causationId, null);
    assert.equal(first.metadata.tenantId, r.rid);
    assert.deepEqual(first.metadata.actor, { kind: 'customer', id: c.id });
    assert.equal(first.metadata.source, 'ordering');
    assert.ok(!Number.isNaN(Date.parse(first.metadata.occurredAt)) && !Number.isNaN(Date.parse(first.metadata.recordedAt)));
    assert.equal(first.position, order.position, 'the position the command answered with is the event’s');
    assert.deepEqual([second.type, second.metadata.correlationId, second.metadata.extra.requestId, second.metadata.actor.kind], ['OrderAccepted', requestId, requestId, 'staff']);
    assert.equal(second.position, accepted.json().position);
    // The request's traceparent rides with its event and leaves in the outbox message's headers; a request without one leaves ''.
    assert.equal(second.metadata.extra.traceparent, traceparent);
    assert.equal(first.metadata.extra.traceparent, undefined);
    const owner = new pg.Client({ connectionString: t.db.url });
    await owner.connect();
    const outbox = await owner
      .query<{ message_id: string; headers: { traceparent: string } }>('select message_id::text, headers from ordering.outbox where message_id = any($1::uuid[])', [
        [first.metadata.messageId, second.metadata.messageId],
      ])
      .finally(() => owner.end());
    const headersOf = new Map(outbox.rows.map((row) => [row.message_id, row.headers.traceparent]));
    assert.deepEqual([headersOf.get(first.metadata.messageId), headersOf.get(second.metadata.messageId)], ['', traceparent]);
    const [tx1, p1] = first.position.split('.').map(BigInt);
    const [tx2, p2] = second.position.split('.').map(BigInt);
    assert.ok(tx2 > tx1 || (tx2 === tx1 && p2 > p1), 'positions grow along the stream');
  });
});
