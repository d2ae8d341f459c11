import { checkPoolSize, type Config } from '../platform/config/index.ts';
import { BrigadeError } from '../platform/errors/index.ts';
import { runOnEveryDatabase, type ServiceDeps, type ServiceModule, type ServiceWorker } from '../platform/runtime/index.ts';
import { createPlatform, type DatabaseHandle, type Platform } from '../composition/runtime.ts';
import { PLATFORM_WORKERS, RELAY_WORKERS } from '../composition/services.ts';
import { offersDevLogin } from '../composition/offersDevLogin.ts';
import { heldConnections } from '../composition/heldConnections.ts';
import { servedPages } from '../api/index.ts';
import { pingRedis, redisAddress } from '../platform/cache/index.ts';
import { databaseHostPort, pingDatabase, type CutPool } from '../platform/db/index.ts';
import { natsServersNamed, pingNats } from '../platform/messaging/index.ts';
import { setMaxListeners } from 'node:events';
import { processLog, type Io } from './io.ts';
import { listenHttpApi } from './portInUse.ts';
import { missingTableOrSchema, notMigratedAdvice } from './notMigrated.ts';
import { saidCutPools, workersStopped } from './shutdownSteps.ts';


/** What to run until SIGINT, SIGTERM or SIGHUP. */
export interface RunOptions {
  readonly http: boolean;
  readonly services: readonly ServiceModule[];
  /**
   * Work to do before the platform closes (e.g. stop a side server that uses the database); it returns
   * the pools of its own whose connections it had to cut (`endPools`), said and counted as the platform's.
   */
  readonly beforeClose?: () => Promise<readonly CutPool[]>;
  /** `performance.now()` when the command started: the "up" line says how long it took to get there. */
  readonly startedAt?: number;
  /** Workers to run (name → run), all of the chosen services' when absent. */
  readonly workers: ReadonlyArray<{ readonly service: string; readonly name: string; readonly keepsConnection?: string; run(deps: ServiceDeps, signal: AbortSignal): Promise<void> }>;
}

/**
 * Serves HTTP and/or runs workers until a signal, then shuts down in order: stop accepting requests
 * and let in-flight ones finish, stop workers, end the pools, leave the embedded database (stopping it
 * when no other brigade process uses it). A worker that crashes, or an embedded database that stops
 * under it, shuts the process down (exit 1) so a supervisor restarts it.
 *
 * Every step is bounded: workers get `WORKER_STOP_MS` (`workersStopped`), requests in flight `buildApp`'s close
 * grace (10 s, then their connections are closed), and the pools `END_POOLS_DEADLINE_MS` (5 s) for the
 * connections still in use, which are then cut (backends cancelled, sockets closed): each cut pool is
 * named on stderr with what to do, and the exit is 1, never "Stopped cleanly.".
 */
export async function runUntilSignal(config: Config, db: DatabaseHandle, options: RunOptions, io: Io, shutdown: Promise<NodeJS.Signals>): Promise<number> {
  let platform: Platform | undefined;
  const stopWorkers = new AbortController();
  // Every worker listens for the stop (a dozen in `brigade start`): not a leak, so no warning.
  setMaxListeners(0, stopWorkers.signal);
  let exitCode = 0;
  let crashed: (() => void) | undefined;
  const crash = new Promise<void>((resolve) => (crashed = resolve));
  try {
    // A DATABASE_POOL_SIZE that what this process keeps would exhaust is refused before anything runs.
    checkPoolSize(config, heldConnections(config, options));
    // A signal that came during start-up (migrations, a side server) starts nothing: the command ends
    // as interrupted (128 + n), where it used to start the whole platform only to stop it at once.
    await refuseIfSignalled(shutdown);
    // Inside the try: a platform that fails to start (NATS unreachable, say) still stops what was
    // started for it (a side server, the embedded database).
    // Redis is asked once, beside the start-up: without it the menu cache reads uncached (decision 0020)
    // and the process starts all the same, so it is said in one plain line rather than only in the log.
    const redisAnswer = options.http && config.redisUrl !== null && config.cacheTtlSeconds !== 0 && options.services.some((s) => s.name === 'menu') ? pingRedis(config.redisUrl) : null;
    // So is DATABASE_URL: serve comes up without it and recovers when it answers (/health/ready says 503
    // meanwhile), and that was all it said. The embedded database was just started: not asked.
    const databaseAnswer = options.http && db.embedded === null ? pingDatabase(db.url) : null;
    // A process without workers (serve) needs no broker to serve: it connects to NATS in the background
    // and comes up during an outage, saying so in one line as for Redis.
    const brokerOptional = options.workers.length === 0;
    const natsAnswer = options.http && brokerOptional && config.natsUrl !== null ? pingNats(config.natsUrl) : null;
    platform = await createPlatform(config, db, { services: options.services, logger: { level: config.logLevel, stream: processLog }, embedded: db.embedded !== null, brokerOptional });
    const { deps } = platform;
    await refuseIfSignalled(shutdown);
    if (options.http) {
      const address = await listenHttpApi(platform.app, config);
      const took = options.startedAt === undefined ? '' : ` in ${Math.round(performance.now() - options.startedAt)} ms`;
      io.out(`Brigade is up${took}${db.embedded !== null ? ` (embedded PostgreSQL on port ${db.embedded.port})` : ''}:`);
      io.out(`  API      ${address}/v1`);
      io.out(`  docs     ${address}/docs`);
      io.out(`  health   ${address}/health/ready`);
      io.out(`  metrics  ${address}/metrics`);
      // The pages this process serves, as the app registered them: none for `brigade serve --service menu`.
      const pages = servedPages({ devLogin: offersDevLogin(config.host, db.embedded !== null), services: options.services.map((s) => s.name) });
      const shown = pages.filter((page) => page.devOnly !== true);
      if (shown.length > 0) io.out(`  pages    ${shown.map((page) => `${address}${page.shown}`).join(' · ')}`);
      if (pages.some((page) => page.devOnly === true)) io.out(`  sign in  ${address}/dev-login (development tokens: embedded database on loopback only)`);
      if ((await databaseAnswer) !== null) io.err(`warning: DATABASE_URL (${databaseHostPort(db.url)}) did not answer: /health/ready answers 503 until it does`);
      if (config.redisUrl !== null && (await redisAnswer) !== null) io.err(`warning: REDIS_URL (${redisAddress(config.redisUrl)}) did not answer: menus are read uncached until it does`);
      if (config.natsUrl !== null && (await natsAnswer) !== null) {
        io.err(`warning: NATS_URL (${natsServersNamed(config.natsUrl)}) did not answer: this process runs no workers and serves without it; dead-letter redrives answer 503 until it connects (it keeps trying; /health/ready shows "nats")`);
      }
    }
    const pending = new Set(options.workers.map((w) => `${w.service}/${w.name}`));
    const running = options.workers.map((w) =>
      w
        .run(deps, stopWorkers.signal)
        .catch((error: unknown) => {
          const missing = missingTableOrSchema(error);
          const why = missing !== undefined ? notMigratedAdvice(missing, db.embedded !== null) : error instanceof Error ? error.message : String(error);
          io.err(`worker ${w.service}/${w.name} crashed: ${why}; shutting down`);
          exitCode = 1;
          crashed?.();
        })
        .finally(() => pending.delete(`${w.service}/${w.name}`)),
    );
    if (options.workers.length > 0) io.out(`  workers  ${options.workers.map((w) => `${w.service}/${w.name}`).join(', ')}`);
    io.out('Press Ctrl+C to stop.');
    // The embedded server stopping under this process (killed, stopped by hand) ends it too: it can serve nothing without it.
    const lost = (db.embedded?.lost ?? new Promise<never>(() => undefined)).then((why) => {
      io.err(`${why}; shutting down`);
      exitCode = 1;
      return 'the embedded PostgreSQL stopped';
    });
    const reason = await Promise.race([shutdown, crash.then(() => 'a worker crash'), lost]);
    io.out(`Shutting down (${reason}) …`);
    stopWorkers.abort();
    // Bounded: a worker that does not stop in time is named, and the shutdown goes on without it.
    if (!(await workersStopped(running, pending, io))) exitCode = 1;
  } finally {
    stopWorkers.abort();
    // Bounded: connections still in use (a request or a worker behind a lock another session holds)
    // are cut END_POOLS_DEADLINE_MS after the pools begin to close, said, and the exit is 1.
    if (saidCutPools([...((await options.beforeClose?.()) ?? []), ...((await platform?.close()) ?? [])], io)) exitCode = 1;
    await db.embedded?.stop();
  }
  io.out(exitCode === 0 ? 'Stopped cleanly.' : 'Stopped (exit 1: see the errors above).');
  return exitCode;
}

/**
 * Throws {@link StartInterruptedError} when `shutdown` has already resolved. (`Promise.race` settles
 * with the first of its promises already settled, in their order: a resolved `shutdown` wins over the
 * `null` beside it, a pending one loses.)
 */
export async function refuseIfSignalled(shutdown: Promise<NodeJS.Signals>): Promise<void> {
  const signal = await Promise.race([shutdown, Promise.resolve(null)]);
  if (signal !== null) throw new StartInterruptedError(signal);
}

/** A shutdown signal came before the process was up: nothing more is started, and what was is stopped. */
export class StartInterruptedError extends BrigadeError {
  constructor(readonly signal: NodeJS.Signals) {
    super('START_INTERRUPTED', 503, `interrupted by ${signal} during start-up: nothing was started; run it again`, { details: { signal } });
  }
}

/**
 * Every worker of the given services, flattened with its service name, plus their outbox relays and,
 * with the platform service, the platform's own (the bus retention). A worker that serves every
 * database runs once per database (`runOnEveryDatabase`) under its one name.
 */
export function workersOf(services: readonly ServiceModule[]): RunOptions['workers'] {
  const names = new Set(services.map((s) => s.name));
  const placed = (service: string, w: ServiceWorker) => ({
    service,
    name: w.name,
    keepsConnection: w.keepsConnection,
    run: w.everyDatabase === true ? (deps: ServiceDeps, signal: AbortSignal) => runOnEveryDatabase({ ...w, service }, deps, signal) : w.run,
  });
  return [
    ...services.flatMap((s) => (s.workers ?? []).map((w) => placed(s.name, w))),
    ...RELAY_WORKERS.filter((r) => names.has(r.service)).map((r) => placed(r.service, r)),
    ...PLATFORM_WORKERS.filter((w) => names.has(w.service)),
  ];
}
