import pg from 'pg';
import { SERVICE_NAMES } from '../composition/services.ts';
import { ConfigError, loadConfig, type Config, type ConfigIssue } from '../platform/config/index.ts';
import { endPools, type CutPool } from '../platform/db/index.ts';
import { explainPortInUse, type ListeningServer } from './portInUse.ts';
import { loadProviderConfig, startPaymentProvider, type ProviderConfig } from '../services/payments/provider/index.ts';

/** The stand-in payment provider beside the platform, and the config that points the payments saga at it. */
export interface StandInProvider {
  /** `config` with `paymentProviderUrl` set to where the saga must call. */
  readonly config: Config;
  /** Where the provider listens, or `null` when PAYMENT_PROVIDER_URL names another provider (none was started). */
  readonly url: string | null;
  /**
   * Stops the provider and ends its pool, bounded as the platform's are (`endPools`): returns the pool
   * if connections still in use had to be cut (none when none was started).
   */
  close(): Promise<CutPool[]>;
}

/**
 * The platform's configuration (`loadConfig`) and the stand-in provider's (its PROVIDER_* variables),
 * read together before anything is opened or started: every bad variable of either in one
 * {@link ConfigError}. `brigade start` read the provider's only once the database was migrated, one bad
 * variable per run, named by a flag (`--latency-ms`) it does not take. The provider's is `null` when
 * PAYMENT_PROVIDER_URL names another provider, unless `always` (`brigade demo` reads its decline card).
 *
 * @throws {@link ConfigError} naming every invalid variable (a variable both read, PORT say, once).
 */
export function loadConfigWithStandIn(env: Readonly<Record<string, string | undefined>>, options: { readonly always?: boolean } = {}): { config: Config; provider: ProviderConfig | null } {
  const issues: ConfigIssue[] = [];
  const gather = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(...error.issues.filter((issue) => !issues.some((known) => known.variable === issue.variable)));
      return undefined;
    }
  };
  const config = gather(() => loadConfig(env, { services: SERVICE_NAMES }));
  // Where the platform's configuration failed, PAYMENT_PROVIDER_URL as given says whether the stand-in would run.
  const standIn = options.always === true || (config === undefined ? (env.PAYMENT_PROVIDER_URL ?? '').trim() === '' : config.paymentProviderUrl === null);
  const provider = standIn ? gather(() => loadProviderConfig(config === undefined ? env : { ...env, PROVIDER_PORT: String(config.providerPort) })) : null;
  if (config === undefined || provider === undefined) throw new ConfigError(issues);
  return { config, provider };
}

/**
 * Runs the stand-in payment provider (a separate HTTP server with its own schema and ledger) on
 * PROVIDER_PORT (default: the platform's port + 1; any free port when PORT=0), with the fault
 * injection of the PROVIDER_* variables (`providerConfig`, read by {@link loadConfigWithStandIn}), unless
 * PAYMENT_PROVIDER_URL points the platform at another provider. What `brigade start` and `brigade demo` run.
 */
export async function startStandInProvider(config: Config, databaseUrl: string, providerConfig: ProviderConfig | null): Promise<StandInProvider> {
  if (config.paymentProviderUrl !== null || providerConfig === null) return { config, url: null, close: async () => [] };
  // A database that never answers fails the provider's requests after DATABASE_ACQUIRE_TIMEOUT_MS, not never.
  const pool = new pg.Pool({ connectionString: providerConfig.databaseUrl ?? databaseUrl, max: 4, application_name: 'brigade-payment-provider', connectionTimeoutMillis: config.databaseAcquireTimeoutMs });
  pool.on('error', () => undefined);
  try {
    const provider = await startPaymentProvider({ pool, host: providerConfig.host, port: providerConfig.port, faults: providerConfig.faults });
    return {
      config: Object.freeze({ ...config, paymentProviderUrl: provider.url }),
      url: provider.url,
      close: async () => {
        await provider.close();
        return endPools([{ label: 'payment-provider', pool }]);
      },
    };
  } catch (error) {
    await pool.end();
    throw explainPortInUse(error, standInProviderAt(providerConfig));
  }
}

/** The stand-in payment provider at `host`:`port`, as {@link explainPortInUse} names it. */
export const standInProviderAt = (at: { readonly host: string; readonly port: number }): ListeningServer => ({
  name: 'the stand-in payment provider',
  host: at.host,
  port: at.port,
  setting: 'PROVIDER_PORT, default PORT + 1',
  alternative: 'PAYMENT_PROVIDER_URL to a provider that already runs',
});
