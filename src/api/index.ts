export { buildApp } from './buildApp.ts';
export type { App, AppDeps, Readiness } from './buildApp.ts';
export { sendProblem, errorHandler } from './problem.ts';
export type { Problem } from './problem.ts';
export { authorize, actorContext, registerAuthentication, registerAdminAudit } from './auth.ts';
export type { AdminAuditEntry } from './auth.ts';
export { deadLetterRoutes } from './deadLetterRoutes.ts';
export type { DeadLetterRoutesOptions } from './deadLetterRoutes.ts';
