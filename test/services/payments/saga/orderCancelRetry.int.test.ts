import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../../src/platform/db/index.ts';
import { BrigadeError, ConcurrencyError, NotFoundError, UnprocessableError } from '../../../../src/platform/errors/index.ts';
import { createSagaRegistry, createSagaRunner, showSaga, startSaga } from '../../../../src/platform/sagas/index.ts';
import type { UnitOfWorkFn } from '../../../../src/platform/tenancy/index.ts';
import { PaymentDeclinedError, type PaymentProviderClient } from '../../../../src/services/payments/provider/index.ts';
import { MONEY_STEP_ATTEMPTS, paymentSaga, type PaymentSagaState } from '../../../../src/services/payments/saga/index.ts';
import { useTestDatabase } from '../../../support/db.ts';

/** A deadlock as the pg driver raises it, kept as it is by unitOfWork (not one of Brigade's errors). */
const deadlock = () => Object.assign(new pg.DatabaseError('deadlock detected', 0, 'error'), { code: '40P01' });

/** The provider of a card that is declined: the ledger is empty, every charge refused; nothing else is called. */
const decliningProvider: PaymentProviderClient = {
  ledger: async () => [],
  charge: async () => {
    throw new PaymentDeclinedError('The card ending 0002 was declined');
  },
  capture: () => Promise.reject(new Error('not called')),
  void: () => Promise.reject(new Error('not called')),
  refund: () => Promise.reject(new Error('not called')),
  payout: () => Promise.reject(new Error('not called')),
};

describe("a declined card's order cancel (the compensation of `order`) retries a failure that passes", () => {
  const database = useTestDatabase();
  let uow: UnitOfWorkFn;
  before(() => {
    const pool = database.pool(4);
    uow = (ctx, fn) => unitOfWork(pool, ctx, fn);
  });

  /**
   * Runs a payment saga whose card is declined until nothing is due; ordering's cancel fails with
   * `failures[n]` on attempt n + 1 (then succeeds). Returns the saga and the cancel's attempts.
   */
  const declineWithCancelFailing = async (failures: ReadonlyArray<() => unknown>) => {
    let attempts = 0;
    let cancelled = 0;
    const saga = paymentSaga(
      {
        provider: decliningProvider,
        orders: {
          cancelOrder: async () => {
            const failure = failures[attempts++];
            if (failure !== undefined) throw failure();
            cancelled++;
          },
          expireOrder: () => Promise.reject(new Error('not called')),
        },
        paymentMethods: { cardFor: async () => '4000000000000002' },
      },
      { acceptWithinMs: 10 * 60_000 },
    );
    const registry = createSagaRegistry({ schema: 'payments', sagas: [saga] });
    const tenantId = randomUUID();
    const orderId = randomUUID();
    const ctx = { service: 'payments', tenantId, actor: { kind: 'system', id: 'test' } } as const;
    await uow(ctx, (tx) => startSaga(tx, registry, { name: 'payment', id: orderId, input: { orderId, restaurantId: tenantId, customerId: randomUUID(), total: 1000, currency: 'EUR' } }));
    const runner = createSagaRunner({ unitOfWork: uow, service: 'payments', registry, backoffMs: () => 0 });
    while (await runner.runOnce());
    const detail = await uow(ctx, (tx) => showSaga<PaymentSagaState>(tx, 'payments', orderId, { tenantId }));
    const undo = detail?.log.filter((e) => e.item === 'undo:order').map((e) => e.kind);
    return { status: detail?.status, pending: detail?.pending, error: detail?.error, attempts, cancelled, undo };
  };

  for (const [label, failure] of [
    ['a tenant on the move (503 TENANT_MOVING)', () => new BrigadeError('TENANT_MOVING', 503, 'Tenant is being moved; retry later')],
    ["a conflict that outlasted ordering's own retries (412 CONCURRENCY_CONFLICT)", () => new ConcurrencyError(3, 4)],
    ['a deadlock (40P01, the driver error as it is)', deadlock],
  ] as const) {
    test(`${label}: retried, the order is cancelled and the saga compensated (before: failed at once, the order never cancelled)`, async () => {
      const run = await declineWithCancelFailing([failure]);
      assert.deepEqual([run.status, run.pending, run.attempts, run.cancelled, run.undo], ['compensated', [], 2, 1, ['retrying', 'succeeded']], JSON.stringify(run));
    });
  }

  test('ordering answering for good (422 the order cannot be cancelled, 404 no such order) is not retried: the saga fails for a person', async () => {
    for (const failure of [() => new UnprocessableError('ORDER_TRANSITION_FORBIDDEN', 'delivered'), () => new NotFoundError('order')]) {
      const run = await declineWithCancelFailing([failure]);
      assert.deepEqual([run.status, run.attempts, run.cancelled, run.undo], ['failed', 1, 0, ['failed']], JSON.stringify(run));
    }
  });

  test(`a failure that never passes is tried ${MONEY_STEP_ATTEMPTS} times, then the saga fails for a person with the last error`, async () => {
    const run = await declineWithCancelFailing(Array.from({ length: MONEY_STEP_ATTEMPTS + 5 }, () => () => new BrigadeError('TENANT_MOVING', 503, 'Tenant is being moved; retry later')));
    assert.deepEqual([run.status, run.attempts, run.cancelled], ['failed', MONEY_STEP_ATTEMPTS, 0], JSON.stringify(run));
    assert.match(run.error ?? '', /^charge failed: The card ending 0002 was declined; compensation order failed: Tenant is being moved/);
  });
});
