import { setMaxListeners } from 'node:events';
import { createPlatform, openDatabase } from '../../composition/runtime.ts';
import { offersDevLogin } from '../../composition/offersDevLogin.ts';
import { SERVICES } from '../../composition/services.ts';
import { redact } from '../../platform/config/index.ts';
import { runDinnerRush } from '../demo/dinnerRush.ts';
import { numberFlag } from '../numberFlag.ts';
import { parse } from '../parse.ts';
import { listenHttpApi } from '../portInUse.ts';
import { migrateEveryDatabase, startingWithoutLine } from '../migrateEveryDatabase.ts';
import { checkBeforeStarting } from '../checkBeforeStarting.ts';
import { workersOf } from '../runUntilSignal.ts';
import { saidCutPools, workersStopped } from '../shutdownSteps.ts';
import { loadConfigWithStandIn, startStandInProvider, type StandInProvider } from '../standInProvider.ts';
import { waitForShutdownSignal } from '../io.ts';
import { UnavailableError } from '../../platform/errors/index.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade demo [--restaurants N] [--couriers N] [--orders N] [--rate R] [--declined SHARE]

Runs a dinner rush through the real HTTP API of a platform it starts itself (embedded PostgreSQL
when DATABASE_URL is unset; every database migrated first, as brigade start does) with the stand-in
payment provider beside it: a city with restaurants, menus, couriers and customers with a card on
file; orders placed (and charged), accepted, prepared, dispatched, delivered and paid out to
restaurant and courier; some cancelled (authorization voided); a few customers' cards declined (payments cancels
those orders, nothing charged): they keep the card PROVIDER_DECLINE_CARD names (none with 'none').
Prints the pages to watch, a progress bar, and a summary: orders/s, payments by outcome, p50 and p99
per command, conflicts, dead letters, cache hit rate.
Defaults: --restaurants 3 --couriers 6 --orders 40 --rate 4 (orders per second) --declined 0.1.`;

/** `brigade demo`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(args, { restaurants: { type: 'string' }, couriers: { type: 'string' }, orders: { type: 'string' }, rate: { type: 'string' }, declined: { type: 'string' } }, usage, 0);
  if (values.help) return ctx.io.out(usage), 0;
  // Counts are whole (1.5 restaurants made a negative count deep in the rush); the rate (orders per second) and the share may be fractions.
  const count = (name: 'restaurants' | 'couriers' | 'orders', fallback: number, max: number) => {
    const raw = values[name];
    return raw === undefined ? fallback : numberFlag(name, raw, { min: 1, max }, usage);
  };
  const rate = values.rate === undefined ? 4 : numberFlag('rate', values.rate, { min: 0, aboveMin: true, max: 1000, fraction: true }, usage);
  const declineShare = values.declined === undefined ? 0.1 : numberFlag('declined', values.declined, { min: 0, max: 1, fraction: true }, usage);
  const options = { restaurants: count('restaurants', 3, 100), couriers: count('couriers', 6, 1000), orders: count('orders', 40, 100_000), rate, cancelShare: 0.1, declineShare };

  // The card the provider declines (PROVIDER_DECLINE_CARD, as the stand-in beside the demo reads it), or
  // none: the declining customers keep that one, and with none there are no such customers. Read (and
  // every bad variable refused, the platform's and the provider's together) before anything starts.
  const { config: loaded, provider: providerConfig } = loadConfigWithStandIn(ctx.env, { always: true });
  const declineCard = providerConfig?.faults.declineCard ?? null;
  // A bad pool size, a PORT or PROVIDER_PORT in use or a NATS nobody answers at is refused before anything is started or migrated.
  await checkBeforeStarting(loaded, { http: true, services: SERVICES, workers: workersOf(SERVICES) }, { standInProvider: true });
  // Ctrl+C stops the rush where it is and shuts the platform down in order (then its embedded
  // PostgreSQL): stopped under live connections instead, the demo died with a driver's stack trace.
  // Stops the workers and the rush (no new orders) on a signal and at the end.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const shutdown = waitForShutdownSignal();
  const interrupted = shutdown.then((signal) => {
    stop.abort(signal);
    ctx.io.err(`\nbrigade demo: ${signal}: stopping the rush and the platform (Ctrl+C again to exit at once) …`);
    throw new UnavailableError(`interrupted by ${signal}`);
  });
  interrupted.catch(() => undefined);
  /** `step`, or the interruption's error as soon as a signal comes (what `step` was doing is left to the shutdown below). */
  const untilInterrupted = <T>(step: Promise<T>): Promise<T> => Promise.race([step, interrupted]);
  const db = await openDatabase(loaded, ctx.io.err);
  let platform;
  let provider: StandInProvider | undefined;
  let workers: Array<Promise<unknown>> = [];
  /** The workers not yet stopped: named when one outlasts the stop. */
  const runningWorkers = new Set<string>();
  /** What the shutdown had to cut short (a worker that did not stop, a pool's connections): exit 1. */
  let cutShort = false;
  let code = 1;
  /** Whether the summary was printed: its pages (printed above it) then stop answering, which is said last. */
  let summarised = false;
  try {
    // Every database, as brigade start migrates them (the configured ones and each restaurant's own), saying
    // what it does: a migration lock another migrator holds is named while the demo waits for it, where the
    // demo used to wait in silence. Ctrl+C cancels the migration running (its transaction rolls back, the
    // lock is released), not only the wait for it.
    const { failed } = await migrateEveryDatabase(loaded, db.url, { out: ctx.io.out, err: ctx.io.err, signal: stop.signal, command: 'brigade demo' });
    for (const failure of failed) ctx.io.err(startingWithoutLine(failure));
    provider = await untilInterrupted(startStandInProvider(loaded, db.url, providerConfig));
    const config = provider.config;
    platform = await untilInterrupted(createPlatform(config, db, { logger: false, embedded: db.embedded !== null }));
    const address = await untilInterrupted(listenHttpApi(platform.app, config));
    workers = workersOf(SERVICES).map((w) => {
      const name = `${w.service}/${w.name}`;
      runningWorkers.add(name);
      return w.run(platform!.deps, stop.signal).catch(() => undefined).finally(() => runningWorkers.delete(name));
    });
    ctx.io.out(`Brigade is up at ${address} (pages: ${address}/login; courier ${address}/courier); payment provider at ${redact(String(config.paymentProviderUrl))}`);
    const bar = (done: number, total: number, perSecond: number) => {
      const width = 30;
      const filled = Math.round((done / total) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} orders  ${perSecond.toFixed(1)} orders/s`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}${done === total ? '\n' : ''}`);
      else if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) ctx.io.out(line);
    };
    const rush = runDinnerRush(address, platform.deps.tokens, { ...options, declineCard, devLogin: offersDevLogin(config.host, db.embedded !== null) }, { onSetup: ctx.io.out, onProgress: bar, signal: stop.signal });
    rush.catch(() => undefined); // left behind by an interruption, it fails as the platform closes
    const summary = await untilInterrupted(rush);
    ctx.io.out('');
    ctx.io.out(`Dinner rush: ${summary.delivered} delivered, ${summary.cancelled} cancelled by the customer, ${summary.declined} declined (card refused), ${summary.failed} failed in ${summary.seconds.toFixed(1)} s`);
    ctx.io.out(`  completed orders/s   ${((summary.delivered + summary.cancelled + summary.declined) / summary.seconds).toFixed(2)}`);
    ctx.io.out(`  payments             ${Object.entries(summary.payments).sort(([a], [b]) => a.localeCompare(b)).map(([stage, n]) => `${n} ${stage.replace('_', ' ')}`).join(', ')} (${summary.settled}/${summary.delivered + summary.cancelled + summary.declined + summary.failed} settled; GET /v1/orders/<id>/payment, brigade sagas list --stuck)`);
    ctx.io.out(`  conflicts (412)      ${summary.conflicts}`);
    ctx.io.out(`  dead letters         ${summary.deadLetters}`);
    ctx.io.out(`  menu cache hit rate  ${summary.cacheReads === 0 ? '-' : `${((summary.cacheHits / summary.cacheReads) * 100).toFixed(0)}% (${summary.cacheHits}/${summary.cacheReads})`}`);
    ctx.io.out('');
    ctx.io.out(`  ${'command'.padEnd(20)} ${'count'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
    for (const [name, list] of [...summary.latencies].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = [...list].sort((a, b) => a - b);
      const at = (p: number) => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(1);
      ctx.io.out(`  ${name.padEnd(20)} ${String(sorted.length).padStart(6)} ${at(0.5).padStart(8)} ${at(0.99).padStart(8)}`);
    }
    summarised = true;
    code = summary.failed === 0 ? 0 : 1;
  } finally {
    // The workers stop before the pools they use close; one that does not (a statement stuck behind a
    // lock) is named, and the pools' close cuts its connection after its own bound, as brigade start does.
    stop.abort();
    if (!(await workersStopped(workers, runningWorkers, ctx.io))) cutShort = true;
    if (saidCutPools([...((await platform?.close()) ?? []), ...((await provider?.close()) ?? [])], ctx.io)) cutShort = true;
    await db.embedded?.stop();
    // The board and tracking links printed above answered only while the demo ran: say so, and how to get them back.
    if (summarised) {
      ctx.io.out('');
      ctx.io.out('The demo has stopped its platform: the pages above no longer answer. Its restaurants and orders stay in the database:');
      ctx.io.out(`npx brigade start${db.embedded === null ? ' (with the same DATABASE_URL)' : ''} serves those pages again (at the same address when PORT is the same).`);
    }
  }
  return cutShort ? 1 : code;
}
