import { runProjection, type RowProjection } from '../../../platform/projections/index.ts';
import { takeTurns, warnEveryMinute, type ServiceDeps, type ServiceWorker, type Turns } from '../../../platform/runtime/index.ts';
import { ORDER_VIEWS } from './projections.ts';

/** A background worker as `ServiceModule.workers` takes it. */
export type ViewWorker = ServiceWorker;

/**
 * One worker per projection: waits for the projection's leader lock, then keeps the view up to date
 * (see `runProjection`). The workers of one database take turns for their batches (decision 0075):
 * between them they hold at most one core of the process's machine. Each database has turns of its
 * own, so a batch stuck in one database (a lock, a slow disk) never holds up another's views. Metrics
 * go to `deps.metrics`, labelled with `database` (`deps.placement`) for an instance of a dedicated database.
 */
export function createViewWorkers(projections: readonly RowProjection[] = ORDER_VIEWS.all): readonly ViewWorker[] {
  const turnsByDatabase = new Map<string, Turns>();
  const turnsOf = (placement: string | undefined): Turns => {
    const key = placement ?? '';
    let turns = turnsByDatabase.get(key);
    if (turns === undefined) turnsByDatabase.set(key, (turns = takeTurns()));
    return turns;
  };
  return projections.map((projection) => ({
    name: `projection-${projection.name}`,
    // Each database's events feed that database's view rows: one projector per database.
    everyDatabase: true,
    // The leader's session lock (`runProjection`), on `projection.service`'s pool: the worker's own service's (ordering).
    keepsConnection: 'projections (leader lock)',
    async run(deps: ServiceDeps, signal: AbortSignal) {
      const pool = deps.databases.poolFor(projection.service);
      const runner = runProjection(pool, projection, {
        turns: turnsOf(deps.placement),
        registry: deps.metrics,
        // An instance on a dedicated database reports under database="<label>"; the shared one's series are unchanged.
        database: deps.placement,
        // A failing batch is retried; said at most once a minute rather than on every retry.
        onError: warnEveryMinute(`projection ${projection.name}${deps.placement === undefined ? '' : ` in ${deps.placement}`}`, 'the view lags until it succeeds: see brigade projections status'),
      });
      await runner.run(signal);
    },
  }));
}

/** The three order view workers, for `ServiceModule.workers`. */
export const viewWorkers: readonly ViewWorker[] = createViewWorkers();
