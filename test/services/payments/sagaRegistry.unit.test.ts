import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paymentsSagaRegistry } from '../../../src/services/payments/index.ts';
import { tenantNotMoving } from '../../../src/platform/tenancy/index.ts';

// Decision 0008: payments' claims of saga work and deadline firings run without a tenant, so they must
// take the tenant fence's guard, or a move of a busy restaurant finds its sagas changed and fails.
test("payments' saga registry guards its claims with the tenant fence", () => {
  const registry = paymentsSagaRegistry([]);
  assert.equal(registry.schema, 'payments');
  assert.equal(registry.claimGuard('tenant_id'), tenantNotMoving('tenant_id'));
});
