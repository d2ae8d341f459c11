import { ConfigError, defaultProviderPort, redact, type ConfigIssue } from '../../../platform/config/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import { NO_FAULTS, type ProviderFaults } from './faults.ts';

/** `PORT`'s default in `loadConfig`: with neither port set, the provider listens on 3001, where the payments saga calls. */
const DEFAULT_PORT = 3000;

/** The largest values the provider's whole-number settings take (the smallest is 0), for `brigade payment-provider`'s flags too. */
export const PROVIDER_LIMITS = Object.freeze({ port: 65535, latencyMs: 600_000, hangMs: 3_600_000 });

/** The provider's own small configuration. */
export interface ProviderConfig {
  /** Port to listen on (0 picks a free one). */
  readonly port: number;
  /** Interface to bind. */
  readonly host: string;
  /** `PROVIDER_DATABASE_URL`: the provider's own database, or `null` to use Brigade's (its own schema there). */
  readonly databaseUrl: string | null;
  readonly faults: ProviderFaults;
}

/** Command-line values that override the environment (strings, as `util.parseArgs` gives them). */
export interface ProviderFlags {
  readonly port?: string;
  readonly host?: string;
  readonly 'latency-ms'?: string;
  readonly 'error-rate'?: string;
  readonly 'timeout-rate'?: string;
  readonly 'hang-ms'?: string;
  readonly 'decline-card'?: string;
}

/**
 * Reads the provider's configuration from flags first, then the given environment record (never
 * `process.env` itself): `PROVIDER_PORT`, else `PORT` + 1 as `loadConfig` places it
 * (`defaultProviderPort`; 3001 with neither set), `HOST`, `PROVIDER_DATABASE_URL`, `PROVIDER_LATENCY_MS`, `PROVIDER_ERROR_RATE`,
 * `PROVIDER_TIMEOUT_RATE`, `PROVIDER_HANG_MS`, `PROVIDER_DECLINE_CARD` (`none` for no such card).
 *
 * @throws {@link ValidationError} (`field`: the flag) naming the first invalid flag value, as `--latency-ms`.
 * @throws {@link ConfigError} naming every invalid variable, when no flag value is invalid (as
 *   `loadConfig` does: `brigade start` and `demo`, which take none of these flags, list them with its own).
 */
export function loadProviderConfig(env: Readonly<Record<string, string | undefined>>, flags: ProviderFlags = {}): ProviderConfig {
  const issues: ConfigIssue[] = [];
  /** A bad value: the flag's (a usage error, thrown at once), or the variable's (gathered). */
  const refuse = (flag: keyof ProviderFlags, variable: string, expected: string, got: string): void => {
    if (flags[flag] !== undefined) throw new ValidationError(`--${flag}: expected ${expected}, got ${JSON.stringify(got)}`, { field: flag });
    issues.push({ variable, expected, got });
  };
  const pick = (flag: keyof ProviderFlags, variable: string): string | undefined => {
    const v = flags[flag] ?? env[variable];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (flag: keyof ProviderFlags, variable: string, fallback: number, max: number): number => {
    const v = pick(flag, variable);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (/^\d+$/.test(v) && n <= max) return n;
    refuse(flag, variable, `an integer from 0 to ${max}`, v);
    return fallback;
  };
  const rate = (flag: keyof ProviderFlags, variable: string): number => {
    const v = pick(flag, variable);
    if (v === undefined) return 0;
    const n = Number(v);
    if (Number.isFinite(n) && n >= 0 && n <= 1) return n;
    refuse(flag, variable, 'a number from 0 to 1', v);
    return 0;
  };
  // In the order the variables are documented; each read once.
  const port = pick('port', 'PROVIDER_PORT') !== undefined ? int('port', 'PROVIDER_PORT', 0, PROVIDER_LIMITS.port) : defaultProviderPort(int('port', 'PORT', DEFAULT_PORT, PROVIDER_LIMITS.port));
  const databaseUrl = env.PROVIDER_DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) issues.push({ variable: 'PROVIDER_DATABASE_URL', expected: 'a URL starting with postgres:// or postgresql://', got: redact(databaseUrl) });
  const latencyMs = int('latency-ms', 'PROVIDER_LATENCY_MS', 0, PROVIDER_LIMITS.latencyMs);
  const errorRate = rate('error-rate', 'PROVIDER_ERROR_RATE');
  const timeoutRate = rate('timeout-rate', 'PROVIDER_TIMEOUT_RATE');
  const hangMs = int('hang-ms', 'PROVIDER_HANG_MS', NO_FAULTS.hangMs, PROVIDER_LIMITS.hangMs);
  const card = pick('decline-card', 'PROVIDER_DECLINE_CARD');
  if (card !== undefined && card !== 'none' && !/^\d{12,19}$/.test(card)) refuse('decline-card', 'PROVIDER_DECLINE_CARD', "12 to 19 digits or 'none'", card);
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze({
    // --port, else PROVIDER_PORT, else beside PORT by loadConfig's own rule: where the payments saga calls
    // by default, so that `brigade worker` and `brigade payment-provider` on the same PORT find each other.
    // (Listening on PORT itself, it took the API's port and the saga called PORT + 1.)
    port,
    host: pick('host', 'HOST') ?? '127.0.0.1',
    databaseUrl: databaseUrl ?? null,
    faults: Object.freeze({ latencyMs, errorRate, timeoutRate, hangMs, declineCard: card === undefined ? NO_FAULTS.declineCard : card === 'none' ? null : card }),
  });
}
