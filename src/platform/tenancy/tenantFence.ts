import type { Statement } from '../db/index.ts';

/**
 * The tenant fence that opens every routed transaction: `platform.enter_tenant` checks the tenant is
 * the transaction's own, takes its shared move lock and refuses (`BRMOV`) when the tenant lives in
 * another database than `placed` (`''`: the service's own). Nobody reads its result, so it is sent
 * without Describe (`resultless`).
 *
 * @example
 * tenantFence(tenantId, '') // for a tenant in the service's own database
 */
export function tenantFence(tenantId: string, placed: string): Statement {
  return { name: 'brigade_enter_tenant', resultless: true, text: 'select platform.enter_tenant($1::uuid, $2)', values: [tenantId, placed] };
}
