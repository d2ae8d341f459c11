import { loadConfig } from '../../platform/config/index.ts';
import { SERVICES, SERVICE_NAMES } from '../../composition/services.ts';
import { openDatabase } from '../../composition/runtime.ts';
import { checkBeforeStarting } from '../checkBeforeStarting.ts';
import { runUntilSignal } from '../runUntilSignal.ts';
import { waitForShutdownSignal } from '../io.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade serve [--service NAME]

Serves the HTTP API (health, metrics and docs included) for every service, or only NAME
(one of: ${SERVICE_NAMES.join(', ')}), and the web pages whose API calls it serves (every page
needs ordering; the courier page delivery too), printing only those. Runs no migrations: run
'brigade migrate' first; /health/ready answers 503 until they are current.`;

/** `brigade serve [--service NAME]`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(args, { service: { type: 'string' } }, usage, 0);
  if (values.help) return ctx.io.out(usage), 0;
  const name = values.service as string | undefined;
  const services = name === undefined ? SERVICES : SERVICES.filter((s) => s.name === name);
  if (services.length === 0) throw new UsageError(`Unknown service ${JSON.stringify(name)}; choose one of ${SERVICE_NAMES.join(', ')}`, usage);
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  // Listen from the first moment: a signal during start-up still ends in an orderly shutdown.
  const shutdown = waitForShutdownSignal();
  const run = { http: true, services, workers: [] };
  // A bad pool size or a PORT in use is refused before the database is opened (an embedded one started):
  // it used to be refused only once it had been. A NATS nobody answers at is not: serve runs no workers,
  // and connects to it in the background.
  await checkBeforeStarting(config, run);
  const db = await openDatabase(config, ctx.io.err);
  return runUntilSignal(config, db, run, ctx.io, shutdown);
}
