export { loadConfig, ConfigError, isUrlOf, paymentProviderUrlOf, POSTGRES_PROTOCOLS, redact } from './loadConfig.ts';
export type { Config, ConfigIssue } from './loadConfig.ts';
export { LOG_LEVELS, logLevelOf, printsStackTraces } from './logLevelOf.ts';
export type { LogLevel } from './logLevelOf.ts';
export { defaultProviderPort } from './defaultProviderPort.ts';
export { checkPoolSize, minimumPoolSize, POOL_SIZE_RESERVE } from './checkPoolSize.ts';
export type { HeldConnections } from './checkPoolSize.ts';
