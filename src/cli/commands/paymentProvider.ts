import pg from 'pg';
import { loadConfig } from '../../platform/config/index.ts';
import { SERVICE_NAMES } from '../../composition/services.ts';
import { openDatabase } from '../../composition/runtime.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../../platform/db/index.ts';
import { loadProviderConfig, PROVIDER_LIMITS, startPaymentProvider } from '../../services/payments/provider/index.ts';
import { numberFlag } from '../numberFlag.ts';
import { waitForShutdownSignal } from '../io.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import { ValidationError } from '../../platform/errors/index.ts';
import { explainPortInUse } from '../portInUse.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade payment-provider [--port N] [--host H] [--latency-ms N] [--error-rate X]
                                [--timeout-rate X] [--hang-ms N] [--decline-card PAN|none]

Runs the stand-in payment provider, the external card processor Brigade calls over HTTP: charges
(POST /charges, POST /charges/:id/capture), refunds (POST /refunds) and payouts (POST /payouts), each
with an Idempotency-Key, and its ledger (GET /ledger). Its tables live in schema payment_provider of
PROVIDER_DATABASE_URL (else Brigade's database, embedded when DATABASE_URL is unset), created at start.
Faults (flags win over PROVIDER_LATENCY_MS, PROVIDER_ERROR_RATE, PROVIDER_TIMEOUT_RATE, PROVIDER_HANG_MS,
PROVIDER_DECLINE_CARD): latency before each request; a share of requests answered 503; a share that
take effect but whose answer is held for --hang-ms (a timeout); a card that is always declined
(default 4000000000000002). Listens on --port, else PROVIDER_PORT, else PORT + 1 (3001 with neither
set): where the payments saga of a brigade on the same PORT calls by default. Stops cleanly on SIGINT,
SIGTERM or SIGHUP.`;

/** `brigade payment-provider`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'latency-ms': { type: 'string' },
      'error-rate': { type: 'string' },
      'timeout-rate': { type: 'string' },
      'hang-ms': { type: 'string' },
      'decline-card': { type: 'string' },
    },
    usage,
    0,
  );
  if (values.help) return ctx.io.out(usage), 0;
  const { help: _help, ...flags } = values;
  // The number flags are read as every command's are (digits; a decimal point for the rates); the
  // variables behind them keep the provider's own reading.
  const whole = { port: PROVIDER_LIMITS.port, 'latency-ms': PROVIDER_LIMITS.latencyMs, 'hang-ms': PROVIDER_LIMITS.hangMs } as const;
  for (const [flag, max] of Object.entries(whole)) {
    const raw = flags[flag as keyof typeof whole];
    if (raw !== undefined) numberFlag(flag, raw, { min: 0, max }, usage);
  }
  for (const flag of ['error-rate', 'timeout-rate'] as const) {
    const raw = flags[flag];
    if (raw !== undefined) numberFlag(flag, raw, { min: 0, max: 1, fraction: true }, usage);
  }
  // A blank value is a mistake (`--host "$PROVIDER_HOST"` with the variable unset), not "the default":
  // the provider's own reading takes a blank as unset, and served on 127.0.0.1 with no word said.
  if (flags.host !== undefined && flags.host.trim() === '') {
    throw new UsageError('--host needs a value: the address to listen on, e.g. 127.0.0.1 (without the flag, HOST, else 127.0.0.1)', usage);
  }
  if (flags['decline-card'] !== undefined && flags['decline-card'].trim() === '') {
    throw new UsageError("--decline-card needs a value: 12 to 19 digits, or 'none' for no declined card", usage);
  }
  const provider = providerConfigOf(ctx.env, flags);
  // Listen from the first moment: a signal during start-up still ends in an orderly shutdown.
  const shutdown = waitForShutdownSignal();
  const db = provider.databaseUrl === null ? await openDatabase(loadConfig(ctx.env, { services: SERVICE_NAMES }), ctx.io.err) : { url: provider.databaseUrl, embedded: null };
  // A database that takes the connection and never answers fails the start-up then, not never.
  const pool = new pg.Pool({ connectionString: db.url, max: 10, application_name: 'brigade-payment-provider', connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS });
  pool.on('error', () => undefined);
  try {
    const running = await startPaymentProvider({ pool, host: provider.host, port: provider.port, faults: provider.faults }).catch((error: unknown) => {
      throw explainPortInUse(error, { name: 'the payment provider', host: provider.host, port: provider.port, setting: '--port, else PROVIDER_PORT, else PORT + 1', hostSetting: values.host === undefined ? 'HOST' : '--host' });
    });
    const f = provider.faults;
    ctx.io.out(`Payment provider listening on ${running.url}`);
    ctx.io.out(`  faults   latency ${f.latencyMs} ms, error rate ${f.errorRate}, timeout rate ${f.timeoutRate} (held ${f.hangMs} ms), declined card ${f.declineCard ?? 'none'}`);
    ctx.io.out('Press Ctrl+C to stop.');
    const signal = await shutdown;
    ctx.io.out(`Shutting down (${signal}) …`);
    await running.close();
  } finally {
    await pool.end();
    await db.embedded?.stop();
  }
  ctx.io.out('Stopped cleanly.');
  return 0;
}

/** The provider's settings; a bad flag value is a usage error (exit 2, with the usage line), a bad variable a failure (exit 1). */
function providerConfigOf(env: CommandContext['env'], flags: Parameters<typeof loadProviderConfig>[1] & object) {
  try {
    return loadProviderConfig(env, flags);
  } catch (error) {
    const field = error instanceof ValidationError ? error.details.field : undefined;
    if (typeof field === 'string' && (flags as Record<string, unknown>)[field] !== undefined) throw new UsageError((error as Error).message, usage);
    throw error;
  }
}
