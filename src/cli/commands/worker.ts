import { loadConfig } from '../../platform/config/index.ts';
import { SERVICES, SERVICE_NAMES } from '../../composition/services.ts';
import { openDatabase } from '../../composition/runtime.ts';
import { checkBeforeStarting } from '../checkBeforeStarting.ts';
import { refuseIfNotMigrated } from '../refuseIfNotMigrated.ts';
import { runUntilSignal, workersOf } from '../runUntilSignal.ts';
import { waitForShutdownSignal } from '../io.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

const ALL = workersOf(SERVICES);

export const usage = `Usage: brigade worker [NAME...]

Runs background workers (relay, projections, consumers, sagas) without HTTP: every worker, or the
ones named (each as service/worker or worker), in this one process. Stops cleanly on SIGINT, SIGTERM
or SIGHUP.
Workers that share turns (the order views' projections, decision 0075) share them only within one
process: name them together.
Workers: ${ALL.length === 0 ? 'none registered yet' : ALL.map((w) => `${w.service}/${w.name}`).join(', ')}`;

/** `brigade worker [NAME...]`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, {}, usage, Infinity);
  if (values.help) return ctx.io.out(usage), 0;
  const isNamed = (w: (typeof ALL)[number], name: string) => w.name === name || `${w.service}/${w.name}` === name;
  const unknown = positionals.find((name) => !ALL.some((w) => isNamed(w, name)));
  if (unknown !== undefined) throw new UsageError(`Unknown worker ${JSON.stringify(unknown)}`, usage);
  const workers = positionals.length === 0 ? ALL : ALL.filter((w) => positionals.some((name) => isNamed(w, name)));
  if (workers.length === 0) {
    ctx.io.out('No workers are registered; nothing to run.');
    return 0;
  }
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  // Listen from the first moment: a signal during start-up still ends in an orderly shutdown.
  const shutdown = waitForShutdownSignal();
  const run = { http: false, services: SERVICES, workers };
  // A bad pool size, or a NATS nobody answers at is refused before the database is opened (an
  // embedded one started): it used to be refused only once it had been.
  await checkBeforeStarting(config, run);
  const db = await openDatabase(config, ctx.io.err);
  try {
    // A database with migrations pending is said in one line before any worker starts (each worker
    // used to start and warn of its missing tables).
    await refuseIfNotMigrated(config, db);
  } catch (error) {
    await db.embedded?.stop();
    throw error;
  }
  return runUntilSignal(config, db, run, ctx.io, shutdown);
}
