import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork, type Tx } from '../../../../src/platform/db/index.ts';
import type { Message } from '../../../../src/platform/messaging/index.ts';
import { createSagaRegistry, loadSaga, sagaTables, showSaga, type SagaRegistry } from '../../../../src/platform/sagas/index.ts';
import { toPaymentView } from '../../../../src/services/payments/paymentView.ts';
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
    pool = database.pool(3);
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

  describe('an order that ended before its OrderPlaced reached payments (found by a review)', () => {
    const placedMessage = (tenant: string, orderId: string) => message(tenant, 'OrderPlaced', { orderId, customerId: randomUUID(), total: 2850, currency: 'EUR', placedAt: new Date().toISOString() });
    /** Runs `handle` in a transaction of its own and holds it open, uncommitted, until `release()`. */
    const held = (tenant: string, handle: (tx: Tx) => Promise<string>) => {
      let release = () => {};
      let handled = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const entered = new Promise<void>((resolve) => (handled = resolve));
      const done = unitOfWork(pool, { service: 'payments', tenantId: tenant, actor: SYSTEM }, async (tx) => {
        const outcome = await handle(tx);
        handled();
        await released;
        return outcome;
      });
      return { entered, release, done };
    };
    const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

    test('an OrderCancelled or OrderRejected given up on (last attempt) is remembered: the OrderPlaced that comes later starts a saga that ends at once, charging nothing (before: it charged the ended order, its deadline ten minutes away)', async () => {
      for (const [type, outcome] of [['OrderCancelled', 'cancelled'], ['OrderRejected', 'rejected']] as const) {
        const tenant = randomUUID();
        const orderId = randomUUID();
        assert.equal(await deliver(message(tenant, type, { orderId, by: 'customer', reason: 'changed my mind' })), 'ignored');
        assert.equal(await deliver(placedMessage(tenant, orderId)), 'started');
        const ended = await saga(tenant, orderId);
        assert.deepEqual([ended?.status, ended?.pending, ended?.completed, ended?.state.outcome, ended?.state.chargeId, ended?.state.endedBeforeStart?.event], ['completed', [], [], outcome, null, type], type);
        const deadlines = await pool.query(`select 1 from payments.saga_deadlines where tenant_id = $1 and saga_id = $2`, [tenant, orderId]);
        assert.equal(deadlines.rowCount, 0, 'no accept deadline');
        // The saga log's start says why: its input names the end.
        const started = await pool.query<{ data: { endedBeforeStart?: { event: string } } }>(`select data from payments.saga_log where tenant_id = $1 and saga_id = $2 and kind = 'started'`, [tenant, orderId]);
        assert.equal(started.rows[0]?.data.endedBeforeStart?.event, type);
        // The payment view: nothing was charged, and the order's end.
        const detail = await unitOfWork(pool, { service: 'payments', tenantId: tenant, actor: SYSTEM }, (tx) => showSaga<PaymentSagaState>(tx, 'payments', orderId, { tenantId: tenant }));
        const view = toPaymentView(detail!);
        assert.deepEqual([view.status, view.payment, view.outcome, view.amounts.authorized, view.amounts.total], ['completed', 'voided', outcome, 0, 2850]);
      }
    });

    test("only an order's end is remembered, only on the last attempt, and only for its tenant: an OrderAccepted given up on, an OrderCancelled still retried, or one of another restaurant leave a later OrderPlaced to charge", async () => {
      const tenant = randomUUID();
      const accepted = randomUUID();
      assert.equal(await deliver(message(tenant, 'OrderAccepted', { orderId: accepted })), 'ignored');
      assert.equal(await deliver(placedMessage(tenant, accepted)), 'started');
      assert.deepEqual((await saga(tenant, accepted))?.pending, ['order', 'charge']);
      const retried = randomUUID();
      await assert.rejects(
        unitOfWork(pool, { service: 'payments', tenantId: tenant, actor: SYSTEM }, (tx) => handleOrderEvent(tx, registry, message(tenant, 'OrderCancelled', { orderId: retried }), { waitForStart: true })),
        (e: unknown) => e instanceof Error && /PAYMENT_SAGA_NOT_STARTED|arrived before its OrderPlaced/.test(`${(e as { code?: string }).code} ${e.message}`),
      );
      assert.equal(await deliver(placedMessage(tenant, retried)), 'started');
      assert.deepEqual((await saga(tenant, retried))?.pending, ['order', 'charge']);
      const elsewhere = randomUUID();
      assert.equal(await deliver(message(randomUUID(), 'OrderCancelled', { orderId: elsewhere })), 'ignored');
      assert.equal(await deliver(placedMessage(tenant, elsewhere)), 'started');
      assert.deepEqual((await saga(tenant, elsewhere))?.pending, ['order', 'charge']);
    });

    test('the end written while its OrderPlaced is handled: the OrderPlaced waits for it and sees it (the end first), or the end waits and advances the saga the OrderPlaced started (the start first)', async () => {
      const tenant = randomUUID();
      // The end first: its transaction holds the order's start lock, uncommitted, while the OrderPlaced comes.
      const first = randomUUID();
      const end = held(tenant, (tx) => handleOrderEvent(tx, registry, message(tenant, 'OrderCancelled', { orderId: first, by: 'customer', reason: 'x' })));
      await end.entered;
      const start = deliver(placedMessage(tenant, first));
      const waited = await settledWithin(start, 300);
      end.release();
      assert.equal(waited, false, 'the OrderPlaced waits for the end to commit');
      assert.equal(await end.done, 'ignored');
      assert.equal(await start, 'started');
      assert.deepEqual([(await saga(tenant, first))?.status, (await saga(tenant, first))?.state.outcome], ['completed', 'cancelled']);
      // The start first: its transaction holds the lock; the end waits, then finds the saga and advances it.
      const second = randomUUID();
      const placing = held(tenant, (tx) => handleOrderEvent(tx, registry, placedMessage(tenant, second)));
      await placing.entered;
      const ending = deliver(message(tenant, 'OrderCancelled', { orderId: second, by: 'customer', reason: 'x' }));
      const endWaited = await settledWithin(ending, 300);
      placing.release();
      assert.equal(endWaited, false, 'the end waits for the OrderPlaced to commit');
      assert.equal(await placing.done, 'started');
      assert.equal(await ending, 'advanced');
      const noted = await saga(tenant, second);
      // The charge is in flight: the cancel is noted, and the charge's success refunds.
      assert.deepEqual([noted?.status, noted?.pending, noted?.state.outcome], ['running', ['order', 'charge'], 'cancelled']);
      const remembered = await pool.query(`select 1 from payments.orders_ended_before_start where tenant_id = $1 and order_id = $2`, [tenant, second]);
      assert.equal(remembered.rowCount, 0, 'an end given to its saga is not remembered');
    });
  });
});
