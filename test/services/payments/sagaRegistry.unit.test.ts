import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPaymentsService, paymentsSagaRegistry } from '../../../src/services/payments/index.ts';
import { paymentSaga } from '../../../src/services/payments/saga/index.ts';
import { tenantNotMoving } from '../../../src/platform/tenancy/index.ts';

// Decision 0008: payments' claims of saga work and deadline firings run without a tenant, so they must
// take the tenant fence's guard, or a move of a busy restaurant finds its sagas changed and fails.
test("payments' saga registry guards its claims with the tenant fence", () => {
  const registry = paymentsSagaRegistry([]);
  assert.equal(registry.schema, 'payments');
  assert.equal(registry.claimGuard('tenant_id'), tenantNotMoving('tenant_id'));
});

// `brigade sagas list --stuck` names a saga of a type outside sagaTypes as one no runner takes.
test("payments' sagaTypes are the names its registry holds", () => {
  const unused = () => Promise.reject(new Error('not called'));
  const saga = paymentSaga({ provider: {} as never, orders: { cancelOrder: unused, expireOrder: unused }, paymentMethods: { cardFor: unused } }, { acceptWithinMs: 60_000 });
  const service = createPaymentsService(() => ({}) as never);
  assert.deepEqual(service.sagaTypes, paymentsSagaRegistry([saga]).names);
});
