import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setAvailability } from '../../../src/services/delivery/operations/availability.ts';
import { reserveCourier } from '../../../src/services/delivery/operations/reserveCourier.ts';
import { settledOrBlocked, useDispatchDatabase } from './dispatchDatabase.ts';

const db = useDispatchDatabase(4);
const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;

test("a courier going available while staff reserve them (no row before either, forced interleaving) is answered busy, available after the order (before: 422 COURIER_BUSY; before that a 500 from the courier policy)", async () => {
  const courierId = randomUUID();
  const tenantId = randomUUID();
  const orderId = randomUUID();
  // Staff's reservation inserts the courier's row as busy and holds it uncommitted.
  let reserved!: () => void;
  let commit!: () => void;
  const didReserve = new Promise<void>((resolve) => (reserved = resolve));
  const released = new Promise<void>((resolve) => (commit = resolve));
  const held = db.uow(system, async (tx) => {
    assert.equal(await reserveCourier(tx, { tenantId, orderId, courierId, assignment: 1, city: 'Porto', leaseMs: 30_000 }), 'assigned');
    reserved();
    await released;
  });
  await Promise.race([didReserve, held]);
  // The courier's SELECT … FOR UPDATE finds no row; their insert waits for the reservation's.
  const going = db.uow({ service: 'delivery', actor: { kind: 'courier', id: courierId } }, (tx) => setAvailability(tx, { courierId, city: 'Porto', available: true }));
  const interleaving = await settledOrBlocked(db.admin, going).finally(commit);
  await held;
  assert.equal(interleaving, 'blocked', "the courier's insert waits for the reservation's");
  const change = await going;
  assert.deepEqual([change.availability.status, change.availability.currentOrderId, change.availability.afterCurrentOrder, change.becameFree], ['busy', orderId, 'available', false]);
  const row = await db.admin.query(`select status, current_order_id, released_status from delivery.courier_availability where courier_id = $1`, [courierId]);
  assert.deepEqual(row.rows, [{ status: 'busy', current_order_id: orderId, released_status: 'available' }], 'the courier said available: they are, once the order ends');
});

test('a courier carrying an order may change what they become after it (released_status) and nothing else of their row; no courier makes themselves busy (delivery migration 0023)', async () => {
  const courierId = randomUUID();
  const other = randomUUID();
  const tenantId = randomUUID();
  const orderId = randomUUID();
  await db.admin.query(
    `insert into delivery.courier_availability (courier_id, city, status, current_tenant_id, current_order_id) values ($1, 'Porto', 'busy', $2, $3), ($4, 'Porto', 'available', null, null)`,
    [courierId, tenantId, orderId, other],
  );
  const as = (id: string, sql: string, values: unknown[]) => db.uow({ service: 'delivery', actor: { kind: 'courier', id } }, (tx) => tx.query(sql, values));
  const stopped = await as(courierId, `update delivery.courier_availability set released_status = 'offline', updated_at = now() where courier_id = $1`, [courierId]);
  assert.equal(stopped.rowCount, 1, 'released_status of their own busy row');
  const forbidden: Array<[string, string, unknown[]]> = [
    ['free themselves', `update delivery.courier_availability set status = 'available', current_order_id = null, current_tenant_id = null where courier_id = $1`, [courierId]],
    ['change their order', `update delivery.courier_availability set current_order_id = $2 where courier_id = $1`, [courierId, randomUUID()]],
    ['move city', `update delivery.courier_availability set city = 'Lisboa' where courier_id = $1`, [courierId]],
    ['touch their hold, even beside released_status', `update delivery.courier_availability set held_until = now(), released_status = 'available' where courier_id = $1`, [courierId]],
    ['make themselves busy', `update delivery.courier_availability set status = 'busy', current_order_id = $2, current_tenant_id = $2 where courier_id = $1`, [other, randomUUID()]],
  ];
  for (const [what, sql, values] of forbidden) {
    const actor = values[0] as string;
    await assert.rejects(as(actor, sql, values), (error: unknown) => (error as { code?: string }).code === '42501', `a courier may not ${what}`);
  }
  // Another courier's busy row is not theirs to change (RLS: no row).
  const foreign = await as(other, `update delivery.courier_availability set released_status = 'available' where courier_id = $1`, [courierId]);
  assert.equal(foreign.rowCount, 0);
  const rows = await db.admin.query(`select courier_id, status, city, current_order_id, released_status from delivery.courier_availability order by courier_id = $1 desc`, [courierId]);
  assert.deepEqual(rows.rows, [
    { courier_id: courierId, status: 'busy', city: 'Porto', current_order_id: orderId, released_status: 'offline' },
    { courier_id: other, status: 'available', city: 'Porto', current_order_id: null, released_status: 'available' },
  ]);
  // The system (the dispatch, the consumer) is not limited by it: the release frees the courier.
  await db.uow(system, (tx) => tx.query(`update delivery.courier_availability set status = released_status, current_order_id = null, current_tenant_id = null where courier_id = $1`, [courierId]));
  assert.deepEqual((await db.admin.query(`select status from delivery.courier_availability where courier_id = $1`, [courierId])).rows, [{ status: 'offline' }]);
});
