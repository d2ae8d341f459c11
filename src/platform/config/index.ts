export { loadConfig, ConfigError, isUrlOf, LOG_LEVELS, paymentProviderUrlOf, POSTGRES_PROTOCOLS, redact } from './loadConfig.ts';
export type { Config, ConfigIssue, LogLevel } from './loadConfig.ts';
export { defaultProviderPort } from './defaultProviderPort.ts';
export { checkPoolSize, minimumPoolSize, POOL_SIZE_RESERVE } from './checkPoolSize.ts';
export type { HeldConnections } from './checkPoolSize.ts';
