export { createDatabases } from './createDatabases.ts';
export type { Databases, DatabasesOptions } from './createDatabases.ts';
export { unitOfWork, serviceRole, CONTEXT_SETTINGS } from './unitOfWork.ts';
export type { Actor, Tx, UnitOfWorkContext, UnitOfWorkOptions } from './unitOfWork.ts';
export { startEmbeddedPostgres } from './embeddedPostgres.ts';
export type { EmbeddedDatabase, EmbeddedPostgresOptions } from './embeddedPostgres.ts';
export { registerPoolMetrics } from './poolMetrics.ts';
export { runExclusiveDdl } from './runExclusiveDdl.ts';
