import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parsePosition, rebuildProjection } from '../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { drain } from './views/support.ts';
import { customerKeys } from '../../../src/services/platform/index.ts';
import { requestHash } from '../../../src/services/ordering/requestHash.ts';
import { command, courier, placeOrder, seedRestaurant, withTableHeld, type SeededRestaurant } from './support.ts';

const ADDRESS = 'Rua da Erasure 7, 4000-123 Porto';

describe('customer erasure by crypto-shredding (decision 0090)', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  let r: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 2 });
    r = await seedRestaurant(t, 'Erasure');
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const signUp = async () => {
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Rui', email: `rui-${randomUUID()}@example.com`, address: 'Rua 1' } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string };
  };
  /** An order of one cola to ADDRESS, accepted and assigned to courier `k`: its id and version 3. */
  const assigned = async (c: { token: string }, k: { id: string }) => {
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    assert.equal(placed.json().deliveryAddress, ADDRESS, 'the placement answers the address as given');
    const id = placed.json().id as string;
    assert.equal((await command(t, r.staff, id, 'accept', 1)).statusCode, 200);
    const done = await command(t, r.staff, id, 'assign-courier', 2, { courierId: k.id });
    assert.equal(done.statusCode, 200, done.body);
    return { id, position: done.json().position as string };
  };
  /** What every reader of the order is told its address is. */
  const addressesOf = async (orderId: string, customerToken: string | null, k: { token: string }, position: string) => {
    await drain(owner, ORDER_VIEWS.courierTasks, parsePosition(position));
    const order = await t.request({ url: `/v1/orders/${orderId}`, token: r.staff });
    const events = await t.request({ url: `/v1/orders/${orderId}/events`, token: r.staff });
    const tasks = await t.request({ url: '/v1/couriers/me/tasks', token: k.token });
    const stale = await command(t, r.staff, orderId, 'ready', 1);
    assert.equal(stale.statusCode, 412, stale.body);
    const placedEvent = (events.json().events as Array<{ type: string; data: { deliveryAddress: unknown }; metadata: { encryption?: unknown } }>).find((e) => e.type === 'OrderPlaced')!;
    const task = (tasks.json().tasks as Array<{ orderId: string; deliveryAddress: unknown }>).find((x) => x.orderId === orderId)!;
    const mine = customerToken === null ? undefined : await t.request({ url: `/v1/orders/${orderId}`, token: customerToken });
    return {
      staff: order.json().deliveryAddress,
      customer: mine?.json().deliveryAddress,
      event: placedEvent.data.deliveryAddress,
      encryption: placedEvent.metadata.encryption,
      task: task.deliveryAddress,
      conflict: stale.json().current.deliveryAddress,
    };
  };

  test('the address is sealed at rest (log, outbox, view) and opened for every reader; erasing the customer (forced, the order on its way) makes every copy read null and revokes their token', async () => {
    const c = await signUp();
    const k = await courier(t);
    const order = await assigned(c, k);

    const stored = await owner.query<{ address: string }>(
      `select e.data->>'deliveryAddress' as address from ordering.events e where e.stream_id = $1 and e.type = 'OrderPlaced'
       union all select o.payload->>'deliveryAddress' from ordering.outbox o where o.payload->>'orderId' = $2::text and o.subject = 'ordering.order.OrderPlaced'
       union all select v.delivery_address from ordering.courier_tasks_view v where v.order_id = $2::uuid`,
      [`order-${order.id}`, order.id],
    );
    // The view row is there once drained.
    await drain(owner, ORDER_VIEWS.courierTasks, parsePosition(order.position));
    const view = await owner.query<{ address: string }>('select delivery_address as address from ordering.courier_tasks_view where order_id = $1', [order.id]);
    const atRest = [...stored.rows, ...view.rows].map((row) => row.address);
    assert.ok(atRest.length >= 3, JSON.stringify(atRest));
    for (const value of atRest) {
      assert.ok(value.startsWith(`sealed:v1:customer:${c.id}:`), value);
      assert.ok(!value.includes('Erasure'), 'no plaintext at rest');
    }

    const before = await addressesOf(order.id, c.token, k, order.position);
    assert.deepEqual(before, {
      staff: ADDRESS,
      customer: ADDRESS,
      event: ADDRESS,
      encryption: { keyId: `customer:${c.id}`, fields: ['/deliveryAddress'] },
      task: ADDRESS,
      conflict: ADDRESS,
    });

    // The order is on its way: the customer's own erasure waits for it; an admin forces it.
    const waits = await t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token });
    assert.deepEqual([waits.statusCode, waits.json().code, waits.json().orderIds], [409, 'CUSTOMER_HAS_OPEN_ORDERS', [order.id]], waits.body);
    assert.equal((await t.request({ url: '/v1/customers/me', token: c.token })).statusCode, 200, 'nothing was erased');
    const admin = await t.token('admin', { subject: 'ops' });
    const erased = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}?force=true`, token: admin });
    assert.equal(erased.statusCode, 204, erased.body);
    assert.equal((await owner.query('select 1 from platform.customers where id = $1', [c.id])).rowCount, 0, 'the customer row is gone');
    const again = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: admin });
    assert.deepEqual([again.statusCode, again.json().code], [404, 'NOT_FOUND'], 'nothing left to erase (the open order does not hide it)');
    // The customer's token grants nothing any more: no reading, listing or acting on their orders.
    for (const [method, url] of [['GET', '/v1/customers/me'], ['GET', '/v1/customers/me/payment-method'], ['GET', '/v1/customers/me/orders'], ['GET', `/v1/orders/${order.id}`], ['GET', `/v1/orders/${order.id}/events`], ['DELETE', '/v1/customers/me']] as const) {
      const res = await t.request({ method, url, token: c.token });
      assert.deepEqual([res.statusCode, res.json().code], [401, 'TOKEN_REVOKED'], `${method} ${url}: ${res.body}`);
    }

    const afterwards = await addressesOf(order.id, null, k, order.position);
    assert.deepEqual(afterwards, { staff: null, customer: undefined, event: null, encryption: before.encryption, task: null, conflict: null });
    const { rows } = await owner.query<{ key: Buffer | null; erased_at: Date | null }>('select key, erased_at from platform.customer_keys where customer_id = $1', [c.id]);
    assert.equal(rows[0]!.key, null, 'the key is destroyed');
    assert.ok(rows[0]!.erased_at instanceof Date, 'its tombstone stays');

    // A rebuilt view copies the sealed value again: still unreadable.
    await rebuildProjection(owner, ORDER_VIEWS.courierTasks);
    const rebuilt = await t.request({ url: '/v1/couriers/me/tasks', token: k.token });
    assert.equal((rebuilt.json().tasks as Array<{ orderId: string; deliveryAddress: unknown }>).find((x) => x.orderId === order.id)!.deliveryAddress, null);

    // Nothing new is recorded for an erased customer (a key made now would outlive the erasure): their
    // token is refused, and a placement that got past that check before the erasure gets no key (410).
    const refused = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.deepEqual([refused.statusCode, refused.json().code], [401, 'TOKEN_REVOKED'], refused.body);
    await assert.rejects(customerKeys(t.platform.deps.unitOfWork).keyFor(c.id), { code: 'SUBJECT_ERASED', status: 410 });
  });

  test("a cancel reason the customer wrote is sealed at rest like the address, opened for every reader, and reads null after the erasure; staff's reason stays in the clear", async () => {
    const c = await signUp();
    const reason = 'I moved to 12 Rua X, call me on 555 0100';
    const staffReason = 'out of cola, sorry';
    const place = async () => {
      const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
      assert.equal(placed.statusCode, 201, placed.body);
      return placed.json().id as string;
    };
    const mine = await place();
    const cancelled = await command(t, c.token, mine, 'cancel', 1, { reason });
    assert.deepEqual([cancelled.statusCode, cancelled.json().cancelReason], [200, reason], cancelled.body);
    const theirs = await place();
    const byStaff = await command(t, r.staff, theirs, 'cancel', 1, { reason: staffReason });
    assert.deepEqual([byStaff.statusCode, byStaff.json().cancelReason], [200, staffReason], byStaff.body);

    // At rest: the event and its outbox message hold the customer's reason sealed, staff's as written;
    // no view row holds either.
    const stored = await owner.query<{ stream_id: string; reason: string }>(
      `select e.stream_id, e.data->>'reason' as reason from ordering.events e where e.stream_id = any($1) and e.type = 'OrderCancelled'
       union all select 'order-' || (o.payload->>'orderId'), o.payload->>'reason' from ordering.outbox o where o.payload->>'orderId' = any($2) and o.subject = 'ordering.order.OrderCancelled'`,
      [[`order-${mine}`, `order-${theirs}`], [mine, theirs]],
    );
    assert.equal(stored.rowCount, 4, JSON.stringify(stored.rows));
    for (const row of stored.rows) {
      if (row.stream_id === `order-${theirs}`) assert.equal(row.reason, staffReason, "staff's reason is not the customer's data");
      else assert.ok(row.reason.startsWith(`sealed:v1:customer:${c.id}:`) && !row.reason.includes('Rua X'), `sealed at rest: ${row.reason}`);
    }
    await drain(owner, ORDER_VIEWS.customerOrders, parsePosition(byStaff.json().position as string));
    await drain(owner, ORDER_VIEWS.board, parsePosition(byStaff.json().position as string));
    const views = await owner.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'ordering' and table_name like '%\\_view'");
    assert.ok(views.rowCount! >= 3, JSON.stringify(views.rows));
    for (const { table_name } of views.rows) {
      const held = await owner.query(`select 1 from ordering.${table_name} v where v::text like '%Rua X%'`);
      assert.equal(held.rowCount, 0, `${table_name} holds the reason`);
    }

    /** The reasons each reader is told: the order's and the OrderCancelled event's, of both orders. */
    const reasonsFor = async (token: string) => {
      const read = async (id: string) => {
        const order = await t.request({ url: `/v1/orders/${id}`, token });
        const events = await t.request({ url: `/v1/orders/${id}/events`, token });
        assert.equal(events.statusCode, 200, events.body);
        const event = (events.json().events as Array<{ type: string; data: { reason: unknown }; metadata: { encryption?: unknown } }>).find((e) => e.type === 'OrderCancelled')!;
        return { order: order.json().cancelReason, event: event.data.reason, encryption: event.metadata.encryption ?? null };
      };
      return { mine: await read(mine), theirs: await read(theirs) };
    };
    const admin = await t.token('admin', { subject: 'ops' });
    const sealedAs = { keyId: `customer:${c.id}`, fields: ['/reason'] };
    for (const token of [c.token, r.staff, admin]) {
      assert.deepEqual(await reasonsFor(token), {
        mine: { order: reason, event: reason, encryption: sealedAs },
        theirs: { order: staffReason, event: staffReason, encryption: null },
      });
    }

    const erased = await t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token });
    assert.equal(erased.statusCode, 204, erased.body);
    for (const token of [r.staff, admin]) {
      assert.deepEqual(await reasonsFor(token), {
        mine: { order: null, event: null, encryption: sealedAs },
        theirs: { order: staffReason, event: staffReason, encryption: null },
      });
    }
    // An erased customer cancels nothing more: their token is refused.
    const again = await command(t, c.token, theirs, 'cancel', 2, { reason });
    assert.deepEqual([again.statusCode, again.json().code], [401, 'TOKEN_REVOKED'], again.body);
  });

  test('an admin erases any customer, also one known only by the orders their token placed, with an order on its way only when forced; 404 for nothing to erase, 403 for others', async () => {
    const admin = await t.token('admin', { subject: 'ops' });
    const id = randomUUID();
    const c = { id, token: await t.token('customer', { subject: id }) };
    const k = await courier(t);
    const order = await assigned(c, k);
    const other = await signUp();

    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: r.staff })).statusCode, 403, 'staff may not');
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: other.token })).statusCode, 403, 'nor another customer');
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${randomUUID()}`, token: admin })).statusCode, 404, 'nothing known of the id');
    const waits = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: admin });
    assert.deepEqual([waits.statusCode, waits.json().orderIds], [409, [order.id]], waits.body);
    const erased = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}?force=true`, token: admin });
    assert.equal(erased.statusCode, 204, erased.body);
    const { staff, task } = await addressesOf(order.id, null, k, order.position);
    assert.deepEqual({ staff, task }, { staff: null, task: null });
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: admin })).statusCode, 404, 'erased already');

    // The other customer is untouched.
    assert.equal((await t.request({ url: '/v1/customers/me', token: other.token })).statusCode, 200);
    const theirs = await placeOrder(t, other.token, { restaurantId: r.rid, deliveryAddress: 'Rua 2', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(theirs.statusCode, 201, theirs.body);
    assert.equal((await t.request({ url: `/v1/orders/${theirs.json().id}`, token: other.token })).json().deliveryAddress, 'Rua 2');
  });

  test('erasure waits for orders on their way: 409 names them (a delivered or cancelled one does not count, one the view has not shown yet does); once they are finished, 204', async () => {
    const c = await signUp();
    const k = await courier(t);
    const erase = () => t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token });
    // One delivered, one open.
    const delivered = await assigned(c, k);
    assert.equal((await command(t, r.staff, delivered.id, 'ready', 3)).statusCode, 200);
    assert.equal((await command(t, k.token, delivered.id, 'pick-up', 4)).statusCode, 200);
    const done = await command(t, k.token, delivered.id, 'deliver', 5);
    assert.equal(done.statusCode, 200, done.body);
    const open = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(open.statusCode, 201, open.body);
    const openId = open.json().id as string;
    await drain(owner, ORDER_VIEWS.customerOrders, parsePosition(open.json().position as string));
    const refused = await erase();
    assert.deepEqual([refused.statusCode, refused.json().code, refused.json().orderIds], [409, 'CUSTOMER_HAS_OPEN_ORDERS', [openId]], refused.body);
    assert.match(refused.json().detail as string, /cancel them first/);
    // Nothing of the refused erasure stays: the card, the row and the key are there.
    assert.equal((await t.request({ url: '/v1/customers/me', token: c.token })).statusCode, 200);
    assert.equal((await t.request({ url: `/v1/orders/${openId}`, token: c.token })).json().deliveryAddress, ADDRESS);

    // Cancelled, but the view has not shown it yet (its row removed here, as before the projector's
    // turn): still counted open. Rebuilt, the view shows it cancelled.
    const cancelled = await command(t, c.token, openId, 'cancel', 1);
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    await drain(owner, ORDER_VIEWS.customerOrders, parsePosition(cancelled.json().position as string));
    await owner.query('delete from ordering.customer_orders_view where order_id = $1', [openId]);
    assert.equal((await erase()).statusCode, 409, 'an order the view does not show counts as open');
    await rebuildProjection(owner, ORDER_VIEWS.customerOrders);
    const erased = await erase();
    assert.equal(erased.statusCode, 204, erased.body);
  });

  test('a replayed placement (same Idempotency-Key and body) answers the address opened', async () => {
    const c = await signUp();
    const key = randomUUID();
    const body = { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] };
    assert.equal((await placeOrder(t, c.token, body, key)).statusCode, 201);
    const replay = await placeOrder(t, c.token, body, key);
    assert.deepEqual([replay.statusCode, replay.json().deliveryAddress], [200, ADDRESS], replay.body);
  });

  test("an idempotency key's row holds no hash of the body that the address can be tested against, before or after the erasure; its replay after the erasure places nothing", async () => {
    const c = await signUp();
    const key = randomUUID();
    const body = { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] };
    const placed = await placeOrder(t, c.token, body, key);
    assert.equal(placed.statusCode, 201, placed.body);
    assert.equal((await placeOrder(t, c.token, body, key)).statusCode, 200, 'the key replays');
    const stored = async () =>
      (await owner.query<{ request_hash: Buffer }>('select request_hash from ordering.idempotency_keys where customer_id = $1 and key = $2', [c.id, key])).rows.map((row) => row.request_hash);
    // What anyone with the database and a guess of the address could compute: the body as the
    // placement hashes it (modifiers listed, no expectedTotal), under no key.
    const guess = requestHash({ restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1, modifierIds: [] }] });
    const [held] = await stored();
    assert.ok(held !== undefined && held.length === 32, 'the key is remembered');
    assert.ok(!held.equals(guess), 'an unkeyed SHA-256 of the body (with the address) is not what the row holds');

    const admin = await t.token('admin', { subject: 'ops' });
    const erased = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}?force=true`, token: admin });
    assert.equal(erased.statusCode, 204, erased.body);
    for (const hash of await stored()) assert.ok(!hash.equals(guess), 'after the erasure neither');

    // The key cannot be replayed into anything: every token of the customer is refused, one minted
    // after the erasure too, and no order is added.
    const minted = await t.token('customer', { subject: c.id });
    for (const token of [c.token, minted]) {
      const replay = await placeOrder(t, token, body, key);
      assert.deepEqual([replay.statusCode, replay.json().code], [401, 'TOKEN_REVOKED'], replay.body);
    }
    const orders = await owner.query('select order_id from ordering.order_index where customer_id = $1', [c.id]);
    assert.equal(orders.rowCount, 1);
  });

  test("two first uses of a customer's key at once make one key, and both get it", async () => {
    const keys = customerKeys(t.platform.deps.unitOfWork);
    const id = randomUUID();
    // Both inserts wait on the table; released, one makes the key and the other's insert waits on its
    // row, then finds it (a statement whose snapshot predates the winner's commit did not: it read as erased).
    const [a, b] = await withTableHeld(t, 'platform.customer_keys', 2, () => Promise.all([keys.keyFor(id), keys.keyFor(id)]));
    assert.deepEqual(a, b);
    assert.equal(a.keyId, `customer:${id}`);
    assert.equal((await keys.readKeys([a.keyId])).get(a.keyId)?.equals(a.key), true);
  });

  test('a DELETE with nothing to erase answers 404 and leaves no tombstone: the id still places orders', async () => {
    const id = randomUUID();
    const token = await t.token('customer', { subject: id });
    assert.equal((await t.request({ method: 'DELETE', url: '/v1/customers/me', token })).statusCode, 404);
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${id}`, token: await t.token('admin', { subject: 'ops' }) })).statusCode, 404);
    const placed = await placeOrder(t, token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
  });

  test('the key table: customers and admins read no key and nobody deletes a row; only the erasure actor writes a tombstone', async () => {
    const c = await signUp();
    const keys = customerKeys(t.platform.deps.unitOfWork);
    await keys.keyFor(c.id);
    const as = (kind: 'customer' | 'admin' | 'system', id: string, text: string) =>
      t.platform.deps.unitOfWork({ service: 'platform', actor: { kind, id } }, (tx) => tx.query(text, [c.id]));
    assert.equal((await as('customer', c.id, 'select key from platform.customer_keys where customer_id = $1')).rowCount, 0, 'not even their own');
    assert.equal((await as('admin', 'ops', 'select key from platform.customer_keys where customer_id = $1')).rowCount, 0);
    for (const kind of ['customer', 'admin', 'system'] as const) {
      await assert.rejects(as(kind, kind === 'customer' ? c.id : 'customer-erasure', 'delete from platform.customer_keys where customer_id = $1'), { code: '42501' }, `${kind} may not delete`);
    }
    assert.equal((await as('system', 'customer-keys', 'update platform.customer_keys set key = null, erased_at = now() where customer_id = $1')).rowCount, 0, "the keys' port does not erase");
    await assert.rejects(as('system', 'customer-erasure', "update platform.customer_keys set key = '\\x00' where customer_id = $1"), { code: '42501' }, 'the erasure actor writes only tombstones');
    assert.equal((await keys.readKeys([`customer:${c.id}`])).size, 1, 'the key is still there');
  });

  test("only the declared fields are opened: a reason that looks sealed is answered as written (the customer's sealed and opened once, staff's never opened), and an address that does is refused (400)", async () => {
    const c = await signUp();
    const lookalike = `sealed:v1:customer:${c.id}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    const refused = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: lookalike, lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.deepEqual([refused.statusCode, refused.json().field], [400, 'body.deliveryAddress'], refused.body);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] }, randomUUID(), { 'x-request-id': lookalike });
    assert.equal(placed.statusCode, 201, placed.body);
    const id = placed.json().id as string;
    const cancelled = await command(t, c.token, id, 'cancel', 1, { reason: lookalike });
    assert.deepEqual([cancelled.statusCode, cancelled.json().cancelReason, cancelled.json().deliveryAddress], [200, lookalike, ADDRESS], cancelled.body);
    const events = await t.request({ url: `/v1/orders/${id}/events`, token: r.staff });
    assert.equal(events.statusCode, 200, events.body);
    assert.deepEqual(
      (events.json().events as Array<{ data: Record<string, unknown> }>).map((e) => e.data.deliveryAddress ?? e.data.reason),
      [ADDRESS, lookalike],
    );
    // The customer's reason was sealed (opened once, to what they wrote); staff's is kept as written
    // and never opened, by the order, its events or a 412's current.
    const stale = await command(t, r.staff, id, 'accept', 1);
    assert.deepEqual([stale.statusCode, stale.json().current.cancelReason], [412, lookalike], stale.body);
    const other = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
    const otherId = other.json().id as string;
    const byStaff = await command(t, r.staff, otherId, 'cancel', 1, { reason: lookalike });
    assert.deepEqual([byStaff.statusCode, byStaff.json().cancelReason], [200, lookalike], byStaff.body);
    assert.equal((await t.request({ url: `/v1/orders/${otherId}`, token: c.token })).json().cancelReason, lookalike);
    const { rows } = await owner.query<{ stream_id: string; reason: string }>("select stream_id, data->>'reason' as reason from ordering.events where stream_id = any($1) and type = 'OrderCancelled'", [
      [`order-${id}`, `order-${otherId}`],
    ]);
    assert.equal(rows.find((row) => row.stream_id === `order-${otherId}`)!.reason, lookalike);
    assert.notEqual(rows.find((row) => row.stream_id === `order-${id}`)!.reason, lookalike, "the customer's is sealed");
  });
});
