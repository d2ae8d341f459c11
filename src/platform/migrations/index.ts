export { discoverMigrations, NO_TRANSACTION_MARKER } from './discoverMigrations.ts';
export type { MigrationFile, MigrationSet } from './discoverMigrations.ts';
export { highestApplied, inspectMigrations, TRACKING_TABLE } from './inspectMigrations.ts';
export type { MigrationState, MigrationStatusRow } from './inspectMigrations.ts';
export { runMigrations, MIGRATION_LOCK_KEY } from './runMigrations.ts';
export type { RunMigrationsOptions, MigrationRunResult } from './runMigrations.ts';
export { migrationStatus } from './migrationStatus.ts';
export { splitStatements } from './splitStatements.ts';
export { MigrationDriftError, MigrationFileError, MigrationOrderError } from './errors.ts';
