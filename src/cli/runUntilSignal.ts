import type { Config } from '../platform/config/index.ts';
import type { ServiceDeps, ServiceModule } from '../platform/runtime/index.ts';
import { createPlatform, type DatabaseHandle } from '../composition/runtime.ts';
import { RELAY_WORKERS } from '../composition/services.ts';
import type { Io } from './io.ts';

/** What to run until SIGINT/SIGTERM. */
export interface RunOptions {
  readonly http: boolean;
  readonly services: readonly ServiceModule[];
  /** Workers to run (name → run), all of the chosen services' when absent. */
  readonly workers: ReadonlyArray<{ readonly service: string; readonly name: string; run(deps: ServiceDeps, signal: AbortSignal): Promise<void> }>;
}

/**
 * Serves HTTP and/or runs workers until a signal, then shuts down in order: stop accepting requests
 * and let in-flight ones finish, stop workers, end the pools, stop the embedded database if this
 * process started it. A worker that crashes shuts the process down (exit 1) so a supervisor restarts it.
 */
export async function runUntilSignal(config: Config, db: DatabaseHandle, options: RunOptions, io: Io, shutdown: Promise<NodeJS.Signals>): Promise<number> {
  const platform = await createPlatform(config, db, { services: options.services, logger: { level: config.logLevel } });
  const stopWorkers = new AbortController();
  let exitCode = 0;
  let crashed: (() => void) | undefined;
  const crash = new Promise<void>((resolve) => (crashed = resolve));
  try {
    if (options.http) {
      const address = await platform.app.listen({ host: config.host, port: config.port });
      io.out(`Brigade is up${db.embedded !== null ? ` (embedded PostgreSQL on port ${db.embedded.port})` : ''}:`);
      io.out(`  API      ${address}/v1`);
      io.out(`  docs     ${address}/docs`);
      io.out(`  health   ${address}/health/ready`);
      io.out(`  metrics  ${address}/metrics`);
    }
    const running = options.workers.map((w) =>
      w.run(platform.deps, stopWorkers.signal).catch((error: unknown) => {
        io.err(`worker ${w.service}/${w.name} crashed: ${error instanceof Error ? error.message : String(error)}; shutting down`);
        exitCode = 1;
        crashed?.();
      }),
    );
    if (options.workers.length > 0) io.out(`  workers  ${options.workers.map((w) => `${w.service}/${w.name}`).join(', ')}`);
    io.out('Press Ctrl+C to stop.');
    const reason = await Promise.race([shutdown, crash.then(() => 'a worker crash')]);
    io.out(`Shutting down (${reason}) …`);
    stopWorkers.abort();
    await Promise.all(running);
  } finally {
    stopWorkers.abort();
    await platform.close();
    await db.embedded?.stop();
  }
  io.out('Stopped cleanly.');
  return exitCode;
}

/** Every worker of the given services, flattened with its service name, plus their outbox relays. */
export function workersOf(services: readonly ServiceModule[]): RunOptions['workers'] {
  const names = new Set(services.map((s) => s.name));
  return [...services.flatMap((s) => (s.workers ?? []).map((w) => ({ service: s.name, name: w.name, run: w.run }))), ...RELAY_WORKERS.filter((r) => names.has(r.service))];
}
