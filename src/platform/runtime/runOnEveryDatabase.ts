import { setMaxListeners } from 'node:events';
import { databaseLabel } from '../db/createDatabases.ts';
import type { ServiceDeps, ServiceWorker } from './index.ts';
import { sleep } from './sleep.ts';
import { warnEveryMinute } from './warnEveryMinute.ts';

/** How often the placement catalog is looked at for a database that has no instance yet. */
export const PLACEMENT_POLL_MS = 1000;

/**
 * The dependencies of a worker instance that serves the tenants of the dedicated database at `url`:
 * `databases.poolFor(service)` is that database's pool, the service's transactions without a tenant run
 * there (`placements.onDatabase`), `placement` names it (the pool's label, `db-` and 8 hex digits
 * of its host, port and name: `databaseLabel`) for logs and metrics, and `dedicated` holds its URL and
 * `deps.databases` (the shared ones). Everything else is `deps`.
 */
export function depsForDatabase(deps: ServiceDeps, url: string, service: string): ServiceDeps {
  const pool = deps.databases.poolForUrl(url);
  const on = deps.placements.onDatabase(url, service);
  const label = deps.databases.labelOf(pool) ?? databaseLabel(url);
  return {
    ...deps,
    databases: { ...deps.databases, poolFor: (name) => (name === service ? pool : deps.databases.poolFor(name)) },
    unitOfWork: on.unitOfWork,
    commitStatements: on.commitStatements,
    placement: label,
    dedicated: { url, shared: deps.databases },
  };
}

/**
 * Runs a worker of `service` for the tenants of every database ({@link ServiceWorker.everyDatabase}):
 * at once with `deps` (the shared database), and for each dedicated database of the placement catalog
 * as soon as a look at the catalog (every `pollMs`) shows it, with {@link depsForDatabase}. Resolves
 * once `signal` aborted and every instance stopped. An instance that fails stops the others and the
 * run rejects with its error, as a crashed worker does; a catalog that cannot be read is said at most
 * once a minute and looked at again.
 */
export async function runOnEveryDatabase(
  worker: ServiceWorker & { readonly service: string },
  deps: ServiceDeps,
  signal: AbortSignal,
  options: { readonly pollMs?: number } = {},
): Promise<void> {
  const pollMs = options.pollMs ?? PLACEMENT_POLL_MS;
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const abort = () => stop.abort();
  signal.addEventListener('abort', abort, { once: true });
  if (signal.aborted) stop.abort();
  let failure: { error: unknown } | undefined;
  const instances: Promise<void>[] = [];
  // Whatever making an instance's dependencies or its run throws, at once or later, fails the instance
  // (and so the worker), never the look at the catalog. Started in this turn: the shared instance is
  // running before the catalog is first read.
  const start = (instanceDeps: () => ServiceDeps) => {
    let running: Promise<void>;
    try {
      running = worker.run(instanceDeps(), stop.signal);
    } catch (error) {
      running = Promise.reject(error);
    }
    instances.push(
      running.catch((error: unknown) => {
        failure ??= { error };
        stop.abort();
      }),
    );
  };
  const warn = warnEveryMinute(`${worker.service}/${worker.name}`, 'it does not yet serve tenants moved since the last good read of the placement catalog');
  try {
    start(() => deps);
    const serving = new Set<string>();
    while (!stop.signal.aborted) {
      try {
        for (const url of await deps.placements.dedicatedDatabases()) {
          if (serving.has(url) || stop.signal.aborted) continue;
          start(() => depsForDatabase(deps, url, worker.service));
          serving.add(url);
        }
      } catch (error) {
        warn(error);
      }
      await sleep(pollMs, stop.signal);
    }
    await Promise.all(instances);
  } finally {
    signal.removeEventListener('abort', abort);
  }
  if (failure !== undefined) throw failure.error;
}
