export { loadConfig, ConfigError, LOG_LEVELS, paymentProviderUrlOf, redact } from './loadConfig.ts';
export type { Config, ConfigIssue, LogLevel } from './loadConfig.ts';
