import { SERVICE_NAMES } from '../../composition/services.ts';
import { openCommandDatabases } from '../../composition/runtime.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { DEFAULT_REBUILD_BATCH, formatPosition, projectionStatus, rebuildProjection, describeHorizonHolder, endHorizonHolder, type HorizonHolder, type HorizonWait, type RebuildProgress } from '../../platform/projections/index.ts';
import { ORDER_VIEWS } from '../../services/ordering/views/index.ts';
import { abortOnShutdownSignal } from '../io.ts';
import { numberFlag } from '../numberFlag.ts';
import { flagsOnlyFor, parse } from '../parse.ts';
import { tenantDatabases } from '../tenantDatabases.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

const PROJECTIONS = ORDER_VIEWS.all;

export const usage = `Usage: brigade projections <status|rebuild> …

  brigade projections status          Each projection's position, lag (events committed after it,
                                      seconds) and leader, once per database (the shared one, then
                                      each restaurant's own); below a projection, the events an open
                                      transaction holds back and the backend that holds them
  brigade projections rebuild NAME    Replay every event into a new table and swap it in atomically
                                      once caught up (reads never see an empty or partial view), in
                                      each database, one after the other
                                      [--batch N] events per page read from the log (default ${DEFAULT_REBUILD_BATCH})
Projections: ${PROJECTIONS.map((p) => p.name).join(', ')}
Connects with DATABASE_URL as the tables' owner (the migrating role), and to each database of the
placement catalog (restaurants moved with 'brigade tenants move'), named by its label (main, db-1a2b3c4d …).`;

/** `brigade projections status|rebuild NAME`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { batch: { type: 'string' } }, usage, 2);
  if (values.help) return ctx.io.out(usage), 0;
  const [action, name] = positionals;
  if (action !== 'status' && action !== 'rebuild') throw new UsageError(action === undefined ? 'Missing action' : `Unknown action ${JSON.stringify(action)}`, usage);
  if (action === 'status' && name !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(name)}`, usage);
  flagsOnlyFor('projections', action, values, { batch: ['rebuild'] }, usage);
  const projection = PROJECTIONS.find((p) => p.name === name);
  if (action === 'rebuild' && projection === undefined) {
    throw new UsageError(name === undefined ? 'rebuild needs a projection NAME' : `Unknown projection ${JSON.stringify(name)}; known: ${PROJECTIONS.map((p) => p.name).join(', ')}`, usage);
  }
  const batch = values.batch === undefined ? DEFAULT_REBUILD_BATCH : numberFlag('batch', values.batch, { min: 1, max: 100_000 }, usage);

  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const { databases, close } = await openCommandDatabases(config, 3, ctx.io.err);
  try {
    // The views and their checkpoints live with the restaurants' events: in the shared database and in
    // each dedicated one (decision 0008).
    const every = await tenantDatabases(databases, 'ordering');
    if (action === 'status') {
      const width = Math.max('database'.length, ...every.map((d) => d.label.length));
      ctx.io.out(`${'projection'.padEnd(16)}  ${'position'.padEnd(22)}  ${'lag events'.padStart(10)}  ${'lag s'.padStart(8)}  ${'applied'.padStart(10)}  ${'database'.padEnd(width)}  leader`);
      let unreadable = 0;
      for (const { label, pool } of every) {
        // One database that cannot be read must not hide the others' state: said, and the exit code is 1.
        const rows = await projectionStatus(pool, PROJECTIONS).catch((error: unknown) => {
          unreadable++;
          ctx.io.err(`database ${label}: cannot read its projections: ${error instanceof Error ? error.message : String(error)}`);
          return [];
        });
        for (const r of rows) {
          ctx.io.out(
            `${r.name.padEnd(16)}  ${formatPosition(r.checkpoint).padEnd(22)}  ${String(r.lagEvents).padStart(10)}  ${r.lagSeconds.toFixed(1).padStart(8)}  ${String(r.eventsApplied).padStart(10)}  ${label.padEnd(width)}  ${r.leaderPid === null ? 'none (no projector running)' : `pid ${r.leaderPid}`}`,
          );
          if (r.heldEvents > 0) ctx.io.out(`  held back: ${r.heldEvents} of those events wait for ${heldBy(r.heldBy)} to end (no batch reads past an open transaction)`);
        }
      }
      return unreadable === 0 ? 0 : 1;
    }
    let lastDrawn = 0;
    let lastPhase: RebuildProgress['phase'] | undefined;
    const draw = (p: RebuildProgress) => {
      const now = performance.now();
      if (p.phase === 'replaying' && now - lastDrawn < 500) return;
      lastDrawn = now;
      // The horizon wait lasts up to 5 minutes: the bar when it begins, and at once and every 5 s (each
      // report) the backend it waits for and how to end it.
      const entered = p.phase !== lastPhase;
      lastPhase = p.phase;
      if (p.phase === 'waiting' && p.waiting !== null && !entered) {
        ctx.io.out(waitingFor(p.waiting));
        return;
      }
      const ratio = p.total === 0 ? 0 : Math.min(1, p.events / p.total);
      const bar = '#'.repeat(Math.round(ratio * 30)).padEnd(30, '-');
      const total = p.total === 0 ? '?' : p.total.toLocaleString('en-US');
      const left = p.phase === 'replaying' && p.total > p.events && p.eventsPerSecond > 0 ? `  about ${Math.ceil((p.total - p.events) / p.eventsPerSecond)} s left` : '';
      ctx.io.out(
        `[${bar}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${p.events.toLocaleString('en-US')}/${total} events  ${Math.round(p.eventsPerSecond).toLocaleString('en-US')} events/s` +
          `${p.rowsWritten === 0 ? '' : `  ${p.rowsWritten.toLocaleString('en-US')} row${p.rowsWritten === 1 ? '' : 's'} written`}${left}  ${p.phase}`,
      );
      if (p.phase === 'waiting' && p.waiting !== null) ctx.io.out(waitingFor(p.waiting));
    };
    // Ctrl+C or SIGTERM stops the rebuild before its swap and drops its copy (a full copy of the view,
    // left behind by a process that just died); a second one exits at once.
    const stop = abortOnShutdownSignal((signal) => ctx.io.err(`brigade projections: ${signal}: stopping the rebuild; the live view stays as it is (Ctrl+C again to exit at once) …`));
    try {
      // One database after the other: each rebuild reads its own database's log and swaps its own table.
      for (const { label, pool } of every) {
        ctx.io.out(`rebuilding ${projection!.name} (${projection!.schema}.${projection!.table}) in database ${label} …`);
        lastDrawn = 0;
        lastPhase = undefined;
        const result = await rebuildProjection(pool, projection!, { batchSize: batch, onProgress: draw, signal: stop.signal });
        // The rate is over the rebuild's own work: a wait for an open transaction is said apart.
        const rate = Math.round(result.events / Math.max(result.seconds - result.waitSeconds, 1e-3)).toLocaleString('en-US');
        const took =
          result.waitSeconds === 0
            ? `${result.seconds.toFixed(1)} s (${rate} events/s)`
            : `${result.seconds.toFixed(1)} s (${result.waitSeconds.toFixed(1)} s of it waiting for transactions open since before it; ${rate} events/s over the rest)`;
        ctx.io.out(
          `rebuilt ${projection!.name}: ${result.events.toLocaleString('en-US')} events → ${result.rows.toLocaleString('en-US')} rows in ${took}, swapped in at ${formatPosition(result.checkpoint)} in database ${label}`,
        );
      }
    } finally {
      stop.dispose();
    }
    return 0;
  } finally {
    await close();
  }
}

/**
 * What a rebuild's horizon wait waits for, and what the operator can do: end that session, or wait
 * until the rebuild gives up.
 */
function waitingFor(wait: HorizonWait): string {
  const waited = `  waiting ${Math.floor(wait.waitedSeconds)} s for`;
  const givesUp = `gives up after ${Math.round(wait.timeoutSeconds)} s`;
  if (wait.holder === null) return `${waited} transactions open since before the rebuild to end (the oldest has just ended); wait (${givesUp})`;
  return `${waited} ${heldBy(wait.holder)} to end; end it with ${endHorizonHolder(wait.holder)}, or wait (${givesUp})`;
}

/** What holds a projection back, for `status`: a session's transaction (pid, age, state, query) or a prepared one. */
function heldBy(holder: HorizonHolder | null): string {
  return holder === null ? 'an older transaction (it has ended since)' : describeHorizonHolder(holder);
}
