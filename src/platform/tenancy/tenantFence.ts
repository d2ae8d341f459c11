import type { Statement, StatementMerge } from '../db/index.ts';

/**
 * Fences merged into one call (docs/decisions/0063): `platform.enter_tenants` checks that the tenants
 * are exactly the transaction's batch tenants, tries each one's shared move lock (`BRMVG` when a move
 * holds one) and refuses (`BRMOV`) when one lives elsewhere than its unit believed.
 */
const FENCE_MERGE: StatementMerge = Object.freeze({
  id: 'brigade_enter_tenant',
  statement: (values: readonly (readonly unknown[])[]): Statement => ({
    name: 'brigade_enter_tenants',
    resultless: true,
    text: 'select platform.enter_tenants($1::uuid[], $2::text[])',
    values: [values.map((v) => v[0]), values.map((v) => v[1])],
  }),
});

/**
 * The tenant fence that opens every routed transaction: `platform.enter_tenant` checks the tenant is
 * the transaction's own, tries its shared move lock without waiting (`BRMVG` while a move holds it:
 * the router waits without a connection and tries again) and refuses (`BRMOV`) when the tenant lives in
 * another database than `placed` (`''`: the service's own). Nobody reads its result, so it is sent
 * without Describe (`resultless`). Fences of units that the group committer merges become one
 * `platform.enter_tenants` call.
 *
 * @example
 * tenantFence(tenantId, '') // for a tenant in the service's own database
 */
export function tenantFence(tenantId: string, placed: string): Statement {
  return { name: 'brigade_enter_tenant', resultless: true, merge: FENCE_MERGE, text: 'select platform.enter_tenant($1::uuid, $2)', values: [tenantId, placed] };
}

/**
 * An SQL condition on a row's tenant (`column`, e.g. `tenant_id`) that holds while no move holds that
 * tenant's fence: it tries the tenant's shared move lock for the transaction, as `platform.enter_tenant`
 * does, so a move that comes later waits for the transaction to end (decision 0008). For work without a
 * tenant that changes tenant rows (a saga runner's claim, a deadline's firing): a row of a tenant being
 * moved is left for a later poll, and its change cannot fall between the move's copy and its delete.
 *
 * @example
 * createSagaRegistry({ schema: 'payments', sagas, claimGuard: tenantNotMoving })
 */
export function tenantNotMoving(column: string): string {
  return `pg_try_advisory_xact_lock_shared(${tenantFenceKey(column)})`;
}

/**
 * The advisory lock key of the tenant `tenant` (an SQL expression of type uuid, e.g. `$1::uuid` or
 * `tenant_id`), one bigint: what a move holds exclusively and `platform.enter_tenant` and
 * {@link tenantNotMoving} try shared. The uuid's canonical text is hashed, so every spelling of one
 * tenant is one key: `hashtextextended` (64 bits, seeded with `hashtext('brigade.tenant_fence')`) with
 * the sign bit set, which leaves 63 bits (300,000 tenants share a fence with probability about 5e-9)
 * and keeps the key apart from every other single-bigint advisory lock of the platform, all fixed
 * non-negative numbers (`MIGRATION_LOCK_KEY`, the bus's and the stand-in provider's DDL locks). The
 * platform's other advisory locks take two ints, another key space (`objsubid` 2 in `pg_locks`, 1 here).
 * Platform migration 0032 spells the same expression in the fences; before it, the key was
 * {@link tenantFenceKeyBefore0032}, 32 bits of the id (decision 0008).
 */
export function tenantFenceKey(tenant: string): string {
  return `(hashtextextended(${tenant}::text, hashtext('brigade.tenant_fence')) | x'8000000000000000'::bigint)`;
}

/**
 * The fence's key before platform migration 0032: two ints, the second only `hashtext` (32 bits) of the
 * id, so two tenants could share it and a move of one held the other's writes. Processes of an older
 * release still try it in their own SQL (their saga claims' guard), so a move takes it as well as
 * {@link tenantFenceKey} ({@link moveFenceKeys}). Remove it there, with migration 0032's trigger that
 * refuses an older release's move, once no release older than 0032 runs.
 */
export function tenantFenceKeyBefore0032(tenant: string): string {
  return `hashtext('brigade.tenant_fence'), hashtext(${tenant}::text)`;
}

/**
 * The keys a move holds exclusively, in the order it takes them: {@link tenantFenceKey}, then, while a
 * release older than platform migration 0032 may run, {@link tenantFenceKeyBefore0032}.
 */
export function moveFenceKeys(tenant: string): readonly string[] {
  return [tenantFenceKey(tenant), tenantFenceKeyBefore0032(tenant)];
}
