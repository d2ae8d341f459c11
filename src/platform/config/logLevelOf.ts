/** Log levels accepted by `LOG_LEVEL` (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * `LOG_LEVEL` as Brigade reads it, everywhere: trimmed and in any case, `info` when unset or blank;
 * `null` when it names no level (`loadConfig` refuses it). The one reading of it: the config's
 * `logLevel`, and the CLI's choice to print a failure's stack trace ({@link printsStackTraces}), which
 * must agree (the CLI read `' debug'` as no debug while the server logged at debug).
 *
 * @example
 * logLevelOf({ LOG_LEVEL: ' Trace ' }) // 'trace'
 * logLevelOf({}) // 'info'
 * logLevelOf({ LOG_LEVEL: 'loud' }) // null
 */
export function logLevelOf(env: Readonly<Record<string, string | undefined>>): LogLevel | null {
  const level = (env.LOG_LEVEL ?? '').trim().toLowerCase();
  if (level === '') return 'info';
  return (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : null;
}

/**
 * Whether a failure's stack trace is printed at `level`: at `debug` and at `trace`, which logs more
 * than debug; never for a level that is none (`null`, from {@link logLevelOf}).
 *
 * @example
 * if (printsStackTraces(logLevelOf(env))) io.err(String(error.stack));
 */
export function printsStackTraces(level: LogLevel | null): boolean {
  return level === 'debug' || level === 'trace';
}
