import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork, type Tx } from '../../../../src/platform/db/index.ts';
import type { Message } from '../../../../src/platform/messaging/index.ts';
import { createSagaRegistry, loadSaga, sagaTables, type SagaRegistry } from '../../../../src/platform/sagas/index.ts';
import { selectSagaSql } from '../../../../src/platform/sagas/transitionSaga.ts';
import { createPaymentProviderClient } from '../../../../src/services/payments/provider/index.ts';
import { handleOrderEvent, paymentSaga, type PaymentSagaState } from '../../../../src/services/payments/saga/index.ts';
import { useTestDatabase } from '../../../support/db.ts';

const SYSTEM = { kind: 'system', id: 'test' } as const;

describe('handleOrderEvent: an order event advances its payment saga, read by the message tenant’s primary key', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let registry: SagaRegistry;

  before(() => {
    pool = database.pool(2);
    // No step runs here (no runner): the ports are never called.
    const unused = () => Promise.reject(new Error('not called'));
    registry = createSagaRegistry({
      schema: 'payments',
      sagas: [paymentSaga({ provider: createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), orders: { cancelOrder: unused, expireOrder: unused }, paymentMethods: { cardFor: unused } }, { acceptWithinMs: 60_000 })],
    });
  });

  const message = (tenant: string, type: string, payload: Record<string, unknown>): Pick<Message, 'subject' | 'headers' | 'payload'> => ({
    subject: `ordering.order.${type}`,
    headers: { correlation: randomUUID(), causation: randomUUID(), tenant, traceparent: '' },
    payload,
  });
  /** Delivers `m` as the consumer does (in the message's tenant, as `system`), recording the statements it runs. */
  const deliver = (m: Pick<Message, 'subject' | 'headers' | 'payload'>, statements: Array<{ text: string; values: readonly unknown[] }> = []) =>
    unitOfWork(pool, { service: 'payments', tenantId: m.headers.tenant, actor: SYSTEM }, (tx) => {
      const recording: Tx = {
        context: tx.context,
        afterCommit: (fn) => tx.afterCommit(fn),
        query: (text, values) => {
          statements.push({ text: typeof text === 'string' ? text : text.text, values: values ?? [] });
          return tx.query(text, values);
        },
      };
      return handleOrderEvent(recording, registry, m);
    });
  const saga = (tenant: string, orderId: string) => unitOfWork(pool, { service: 'payments', tenantId: tenant, actor: SYSTEM }, (tx) => loadSaga<PaymentSagaState>(tx, registry, orderId));

  test('OrderPlaced starts the saga; OrderAccepted advances it, read with the tenant of the message', async () => {
    const tenant = randomUUID();
    const orderId = randomUUID();
    assert.equal(await deliver(message(tenant, 'OrderPlaced', { orderId, customerId: randomUUID(), total: 2850, currency: 'EUR' })), 'started');
    const statements: Array<{ text: string; values: readonly unknown[] }> = [];
    assert.equal(await deliver(message(tenant, 'OrderAccepted', { orderId, etaMinutes: 15 }), statements), 'advanced');
    const after = await saga(tenant, orderId);
    assert.deepEqual([after?.version, after?.state.accepted, after?.tenantId], [2, true, tenant]);
    const table = sagaTables('payments')('saga_instances');
    const reads = statements.filter((s) => s.text === selectSagaSql(table, true) || s.text === selectSagaSql(table, false));
    assert.deepEqual(reads, [{ text: selectSagaSql(table, true), values: [orderId, tenant] }], 'one read, through the primary key (tenant_id, id)');
  });

  test('an event whose tenant is not the saga’s is ignored and changes nothing', async () => {
    const tenant = randomUUID();
    const orderId = randomUUID();
    assert.equal(await deliver(message(tenant, 'OrderPlaced', { orderId, customerId: randomUUID(), total: 1200, currency: 'EUR' })), 'started');
    assert.equal(await deliver(message(randomUUID(), 'OrderAccepted', { orderId })), 'ignored');
    const unchanged = await saga(tenant, orderId);
    assert.deepEqual([unchanged?.version, unchanged?.state.accepted], [1, false]);
    assert.equal(await deliver(message(tenant, 'OrderAccepted', { orderId })), 'advanced');
  });

  test("the accept deadline runs from the order's placedAt, not from when payments took its OrderPlaced (a backlog delays the refund of an unaccepted order no more), and never before now; an OrderPlaced without placedAt runs it from now as before", async () => {
    const dueInSeconds = async (tenant: string, orderId: string) =>
      Number((await pool.query<{ s: string }>(`select extract(epoch from (due_at - now())) as s from payments.saga_deadlines where tenant_id = $1 and saga_id = $2 and name = 'accept'`, [tenant, orderId])).rows[0]?.s);
    const tenant = randomUUID();
    const placed = async (placedAt?: string) => {
      const orderId = randomUUID();
      assert.equal(await deliver(message(tenant, 'OrderPlaced', { orderId, customerId: randomUUID(), total: 1200, currency: 'EUR', ...(placedAt === undefined ? {} : { placedAt }) })), 'started');
      return orderId;
    };
    // Placed 45 s ago, taken now: 15 s are left of the minute (before: a whole minute from now).
    const late = await placed(new Date(Date.now() - 45_000).toISOString());
    const left = await dueInSeconds(tenant, late);
    assert.ok(left > 5 && left <= 15.5, `due in ${left} s`);
    assert.equal((await saga(tenant, late))?.state.placedAt !== undefined, true, 'the saga keeps placedAt');
    // Placed an hour ago (a consumer's backlog): due now, not in the past and not a minute from now.
    const backlog = await placed(new Date(Date.now() - 60 * 60_000).toISOString());
    const overdue = await dueInSeconds(tenant, backlog);
    assert.ok(overdue > -5 && overdue <= 0.5, `due in ${overdue} s`);
    // Without placedAt (an event recorded before it was read, or one that is not a date): a minute from now, as before.
    for (const orderId of [await placed(), await placed('not a date')]) {
      const whole = await dueInSeconds(tenant, orderId);
      assert.ok(whole > 50 && whole <= 60.5, `due in ${whole} s`);
    }
  });
});
