export { loadConfig, ConfigError, LOG_LEVELS } from './loadConfig.ts';
export type { Config, ConfigIssue, LogLevel } from './loadConfig.ts';
