import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { setAvailability } from '../../../src/services/delivery/operations/availability.ts';
import { reserveCourier } from '../../../src/services/delivery/operations/reserveCourier.ts';
import { settledOrBlocked, useDispatchDatabase } from './dispatchDatabase.ts';

const db = useDispatchDatabase(4);
const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;

test("a courier going available while staff reserve them (no row before either, forced interleaving) gets 422 COURIER_BUSY, not a 500 from the courier policy", async () => {
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
  await assert.rejects(going, (error: unknown) => error instanceof BrigadeError && error.code === 'COURIER_BUSY' && error.status === 422 && error.message.includes(orderId));
  const row = await db.admin.query(`select status, current_order_id from delivery.courier_availability where courier_id = $1`, [courierId]);
  assert.deepEqual(row.rows, [{ status: 'busy', current_order_id: orderId }]);
});
