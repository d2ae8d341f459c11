export { createTenantRouter, DEFAULT_MOVE_WAIT_MS } from './createTenantRouter.ts';
export type { CommitStatementsFn, TenantRouter, TenantRouterOptions, UnitOfWorkFn } from './createTenantRouter.ts';
export { moveTenant } from './moveTenant.ts';
export { tenantFence } from './tenantFence.ts';
export type { MoveTenantOptions } from './moveTenant.ts';
export { tenantTables } from './tenantTables.ts';
export type { TenantTable } from './tenantTables.ts';
export { findTenancyViolations, listSecurityDefinerFunctions, settingsReadOncePerStatement } from './findTenancyViolations.ts';
export type { DefinerFunction } from './findTenancyViolations.ts';
