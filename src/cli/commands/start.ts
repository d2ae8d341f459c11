import { redact } from '../../platform/config/index.ts';
import { SERVICES } from '../../composition/services.ts';
import { openDatabase } from '../../composition/runtime.ts';
import { migrateEveryDatabase, startingWithoutLine } from '../migrateEveryDatabase.ts';
import { checkBeforeStarting } from '../checkBeforeStarting.ts';
import { refuseIfSignalled, runUntilSignal, workersOf } from '../runUntilSignal.ts';
import { loadConfigWithStandIn, startStandInProvider } from '../standInProvider.ts';
import { waitForShutdownSignal } from '../io.ts';
import { parse } from '../parse.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade start

Runs the whole platform in one process: PostgreSQL (embedded under .brigade/pg when DATABASE_URL is
unset; reused by the next start, shared with any other brigade command on it, and stopped by the last
of them to stop), the pending migrations of every database (as brigade migrate: the
configured ones and each restaurant's own), the HTTP API for every service and every worker, and the
stand-in payment provider (PROVIDER_PORT, default PORT + 1; not started when PAYMENT_PROVIDER_URL
names another provider). Stops cleanly on Ctrl+C (SIGINT), SIGTERM or SIGHUP (the terminal closed).

A restaurant's own database that cannot be reached or migrated does not stop it: it says which one
(its label, address and restaurant) and serves every other restaurant.`;

/** `brigade start`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(args, {}, usage, 0);
  if (values.help) return ctx.io.out(usage), 0;
  const started = performance.now();
  // The stand-in provider's PROVIDER_* variables with the platform's, every bad one listed together,
  // before the database is opened or migrated: they were read only once it had been.
  const { config, provider: providerConfig } = loadConfigWithStandIn(ctx.env);
  // Listen from the first moment: a signal during start-up still ends in an orderly shutdown.
  const shutdown = waitForShutdownSignal();
  // Ctrl+C while the migrations run is said at once and cancels the running one (its transaction rolls
  // back, the migration lock is released): the start ends there, exit 128 + n, nothing started. Held
  // until the migrations were done, it used to start the whole platform only to stop it.
  const stopStartUp = new AbortController();
  let migrating = true;
  void shutdown.then((signal) => {
    if (!migrating) return; // runUntilSignal says it, and starts nothing more
    ctx.io.err(`brigade start: ${signal} during start-up: stopping the migrations, starting nothing (Ctrl+C again to exit at once) …`);
    stopStartUp.abort(signal);
  });
  const run = { http: true, services: SERVICES, workers: workersOf(SERVICES) };
  // A bad pool size, a PORT or PROVIDER_PORT in use or a NATS nobody answers at is refused before the database is opened
  // or migrated and before the provider starts: it used to be refused only once those had been done.
  await checkBeforeStarting(config, run, { standInProvider: true });
  const db = await openDatabase(config, ctx.io.err);
  try {
    // Every database, as brigade migrate does: the configured ones and each restaurant's own (readiness
    // requires them all). A restaurant's own database that fails does not stop the start (decision 0008):
    // every other restaurant is served, and that one's requests fail until its database answers.
    const { failed } = await migrateEveryDatabase(config, db.url, { out: ctx.io.out, err: ctx.io.err, signal: stopStartUp.signal, command: 'brigade start' });
    for (const failure of failed) ctx.io.err(startingWithoutLine(failure));
  } catch (error) {
    await db.embedded?.stop();
    throw error;
  } finally {
    migrating = false;
  }
  // The stand-in payment provider runs beside the platform (unless PAYMENT_PROVIDER_URL names another).
  let provider: Awaited<ReturnType<typeof startStandInProvider>>;
  try {
    // Ctrl+C just as the migrations finished starts nothing more (runUntilSignal checks again before
    // each of its steps): the provider used to start, only to be stopped at once.
    await refuseIfSignalled(shutdown);
    provider = await startStandInProvider(config, db.url, providerConfig);
  } catch (error) {
    await db.embedded?.stop();
    throw error;
  }
  ctx.io.out(`payment provider at ${provider.url ?? `${redact(String(provider.config.paymentProviderUrl))} (PAYMENT_PROVIDER_URL)`}`);
  return runUntilSignal(provider.config, db, { ...run, beforeClose: () => provider.close(), startedAt: started }, ctx.io, shutdown);
}
