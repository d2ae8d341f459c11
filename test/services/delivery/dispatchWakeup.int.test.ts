import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { runDispatchLoop, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { enqueueOrder } from '../../../src/services/delivery/operations/enqueueOrder.ts';
import { FLOW_MS, within } from '../../support/eventually.ts';
import { useTestDatabase } from '../../support/db.ts';
import { watchForIdle } from '../../support/watchForIdle.ts';

// A file of its own: no other test of this process announces dispatch work before these run.
describe('an idle dispatch loop wakes when this process queues an order', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  before(() => {
    pool = database.pool(6);
  });

  test('the queued order is assigned at once, not at the next poll', async () => {
    const courierId = randomUUID();
    await pool.query(`insert into delivery.courier_availability (courier_id, city, status, available_since) values ($1, 'Braga', 'available', now())`, [courierId]);
    let assigned!: (courier: string) => void;
    const assignment = new Promise<string>((resolve) => (assigned = resolve));
    const orders: OrderCommands = { assignCourier: async ({ courierId: courier }) => assigned(courier), unassignCourier: async () => true, orderCourier: async () => ({ courierId: null }) };
    // `wentIdle` resolves when a dispatch step found nothing due: the loop then waits.
    const { unitOfWork: uow, wentIdle } = watchForIdle(pool, (step) => (step as { outcome?: string } | null)?.outcome === 'idle');
    const stop = new AbortController();
    // An idle poll far longer than the wait below: only the wake-up can end it in time.
    const running = runDispatchLoop({ unitOfWork: uow, orders }, stop.signal, { idleMs: 10 * FLOW_MS });
    try {
      await within(wentIdle, 30_000, 'the loop\'s first, empty step');
      const queued = await uow({ service: 'delivery', actor: { kind: 'system', id: 'test' } }, (tx) => enqueueOrder(tx, { tenantId: randomUUID(), orderId: randomUUID(), city: 'Braga' }));
      assert.equal(queued, true);
      assert.equal(await within(assignment, 30_000, 'the assignment, woken by the queued order'), courierId);
    } finally {
      stop.abort();
      await running;
    }
  });
});
