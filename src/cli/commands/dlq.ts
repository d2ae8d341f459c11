import { SERVICE_NAMES } from '../../composition/services.ts';
import { createTransport, openCommandDatabases } from '../../composition/runtime.ts';
import { loadConfig } from '../../platform/config/index.ts';
import {
  DEFAULT_REDRIVE_LIMIT,
  dropDeadLetter,
  listDeadLetterPage,
  MAX_DEAD_LETTER_LIST,
  NoSuchSubscriptionError,
  redriveDeadLetters,
  showDeadLetter,
  type RedriveCursor,
  type RedriveOutcome,
  type RedriveSelection,
  type Transport,
} from '../../platform/messaging/index.ts';
import { constants } from 'node:os';
import type pg from 'pg';
import { abortOnShutdownSignal, shutdownSignalReceived } from '../io.ts';
import { numberFlag } from '../numberFlag.ts';
import { flagsOnlyFor, parse } from '../parse.ts';
import { isUuid } from '../../platform/ids/index.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade dlq <list|show|redrive|drop> …

  brigade dlq list [--subscription S] [--limit N] [--before ID]
                                               Dead letters, newest failure first: N of them (default 100,
                                               at most 10000), after the letter ID (the next page)
  brigade dlq show ID                          One dead letter: message, headers, error, attempts
  brigade dlq redrive ID | --all [--subscription S]
                                               Send it (or every one) back to its subscription; --all
                                               goes through them all, a run of 1000 at a time, says
                                               how far it is every second (stderr), and Ctrl+C stops
                                               it between letters, saying how many are left
  brigade dlq drop ID                          Delete a dead letter for good
The same operations are at /v1/admin/dead-letters (admin token).`;

/** `brigade dlq …`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { subscription: { type: 'string' }, all: { type: 'boolean' }, limit: { type: 'string' }, before: { type: 'string' } }, usage, 2);
  if (values.help) return ctx.io.out(usage), 0;
  const [action, id] = positionals;
  const needsId = action === 'show' || action === 'drop' || (action === 'redrive' && values.all !== true);
  if (!['list', 'show', 'redrive', 'drop'].includes(action ?? '')) throw new UsageError(action === undefined ? 'Missing action' : `Unknown action ${JSON.stringify(action)}`, usage);
  if (needsId && id === undefined) throw new UsageError(`dlq ${action} needs an ID${action === 'redrive' ? ' or --all' : ''}`, usage);
  if (!needsId && id !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(id)}`, usage);
  flagsOnlyFor('dlq', action, values, { all: ['redrive'], subscription: ['list', 'redrive'], before: ['list'] }, usage);
  if (values.subscription !== undefined && action === 'redrive' && values.all !== true) throw new UsageError('--subscription goes with brigade dlq redrive --all (one ID names its letter)', usage);
  if (id !== undefined && !isUuid(id)) throw new UsageError(`A dead letter ID is a UUID (brigade dlq list shows them), got ${JSON.stringify(id)}`, usage);
  const before = values.before as string | undefined;
  if (before !== undefined && !isUuid(before)) throw new UsageError(`--before takes a dead letter ID (a UUID: the one the last page's summary names), got ${JSON.stringify(before)}`, usage);
  if (values.limit !== undefined && action !== 'list') throw new UsageError('--limit is for dlq list', usage);
  const limit = values.limit === undefined ? 100 : numberFlag('limit', values.limit, { min: 1, max: MAX_DEAD_LETTER_LIST }, usage);

  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const { databases, close } = await openCommandDatabases(config, 2, ctx.io.err);
  const pool = databases.poolFor('platform');
  try {
    if (action === 'list') {
      const subscription = values.subscription as string | undefined;
      const page = await listDeadLetterPage(pool, { limit, ...(subscription === undefined ? {} : { subscription }), ...(before === undefined ? {} : { before }) });
      const letters = page.deadLetters;
      ctx.io.out(`${'id'.padEnd(36)}  ${'subscription'.padEnd(24)}  ${'subject'.padEnd(32)}  attempts  last failure`);
      for (const l of letters) {
        ctx.io.out(`${l.id}  ${l.subscription.padEnd(24)}  ${l.message.subject.padEnd(32)}  ${String(l.attempts).padStart(8)}  ${l.lastFailedAt.toISOString()}  ${l.error.split('\n')[0]}`);
      }
      ctx.io.out(listSummary(page.total, letters.length, before, page.next === null ? null : nextPageCommand(page.next, subscription, values.limit === undefined ? undefined : limit)));
    } else if (action === 'show') {
      ctx.io.out(JSON.stringify(await showDeadLetter(pool, id as string), null, 2));
    } else if (action === 'drop') {
      await dropDeadLetter(pool, id as string);
      ctx.io.out(`dropped ${id}`);
    } else {
      // Only connects and checks the stream: the settings in this shell's environment (perhaps not
      // the production one's) must not rewrite the running platform's stream.
      const transport = await createTransport(config, pool, { manageStream: false });
      try {
        const letter = id === undefined ? undefined : await showDeadLetter(pool, id);
        const selection = id !== undefined ? { id } : values.subscription === undefined ? { all: true as const } : { all: true as const, subscription: values.subscription as string };
        const { redriven, failed, left } = id !== undefined ? await redriveDeadLetters(pool, transport, selection) : await redriveAll(pool, transport, selection, ctx);
        for (const f of failed) ctx.io.err(`${f.id} (${f.subscription}) could not go back: ${f.error}`);
        // Stopped by Ctrl+C (or SIGTERM) before its end: what went back and what is left, exit 128 + n.
        if (left !== undefined && left > 0) {
          ctx.io.err(`brigade dlq: redriven ${redriven}, ${left} left: run it again`);
          return 128 + (constants.signals[shutdownSignalReceived() ?? 'SIGINT'] ?? 0);
        }
        ctx.io.out(`redriven ${redriven} dead letter(s)`);
        // A letter whose handler fails again is parked under a new id (so that --all does not take it
        // twice): its old id then leads nowhere, and this says where to look.
        if (redriven > 0) {
          const where = letter?.subscription ?? (values.subscription as string | undefined);
          ctx.io.out(`sent back to ${where ?? 'their subscriptions'}: one whose handler fails again is parked under a new id (brigade dlq list${where === undefined ? '' : ` --subscription ${where}`})`);
        }
        if (failed.length > 0) {
          ctx.io.err(`${failed.length} dead letter(s) stayed: fix what their errors say (a removed or renamed subscription), then 'brigade dlq redrive ID', or 'brigade dlq drop ID'`);
          return 1;
        }
      } finally {
        await transport.close();
      }
    }
    return 0;
  } catch (error) {
    // --subscription names no subscription (a typo): bad usage, exit 2, naming the ones there are.
    if (error instanceof NoSuchSubscriptionError) throw new UsageError(error.message, usage);
    throw error;
  } finally {
    await close();
  }
}

/** How often `brigade dlq redrive --all` says where it is. */
const PROGRESS_EVERY_MS = 1_000;

/**
 * `brigade dlq redrive --all`: every letter there when it began, in runs of {@link DEFAULT_REDRIVE_LIMIT}
 * (a run of the library is bounded, as the HTTP request is), each going on from the last one's `next`
 * until none is left. Says `redriven N of M, L left` on stderr every second while it runs (one letter
 * held up by the broker included), and stops between letters on Ctrl+C or SIGTERM (a second one exits
 * at once); the outcome's `left` then says how many it did not get to.
 */
async function redriveAll(pool: pg.Pool, transport: Transport, selection: RedriveSelection, ctx: CommandContext): Promise<RedriveOutcome> {
  /** The runs before this one: what they sent back and could not. */
  let redriven = 0;
  const failed: Array<RedriveOutcome['failed'][number]> = [];
  /** The letters counted when the first run began, and where the current run is. */
  let progress: { total: number; redriven: number; failed: number; left: number } | null = null;
  const ticker = setInterval(() => {
    if (progress === null) return;
    ctx.io.err(`redriven ${progress.redriven} of ${progress.total}, ${progress.left} left${progress.failed === 0 ? '' : ` (${progress.failed} could not go back)`} …`);
  }, PROGRESS_EVERY_MS);
  const stop = abortOnShutdownSignal((signal) => ctx.io.err(`brigade dlq: ${signal}: stopping after the letter in flight (Ctrl+C again to exit at once) …`));
  try {
    let from: RedriveCursor | undefined;
    for (;;) {
      const run = await redriveDeadLetters(pool, transport, selection, {
        signal: stop.signal,
        limit: DEFAULT_REDRIVE_LIMIT,
        ...(from === undefined ? {} : { from }),
        onProgress: (p) => {
          progress = { total: progress?.total ?? p.total, redriven: redriven + p.redriven, failed: failed.length + p.failed, left: p.total - p.redriven - p.failed };
        },
      });
      redriven += run.redriven;
      failed.push(...run.failed);
      if (run.next === undefined || run.next === null || stop.signal.aborted) return { redriven, failed, left: run.left ?? 0, next: run.next ?? null };
      from = run.next;
    }
  } finally {
    clearInterval(ticker);
    stop.dispose();
  }
}

/**
 * The list's last line: how many there are in all and, when the list stops before the last one, the
 * command of the next page. Before, it said "--limit N for more", which stops at 10,000: the next page
 * (--before) has no such end.
 */
function listSummary(total: number, shown: number, before: string | undefined, next: string | null): string {
  if (before === undefined && next === null) return `${total} dead letter(s)`;
  const which = before === undefined ? `the first ${shown}` : `${shown} after ${before}`;
  return `${total} dead letter(s), showing ${which} (newest failure first; ${next === null ? 'the last page' : `the next page: ${next}`})`;
}

/** `brigade dlq list` of the page after `next`, with the same subscription and limit. */
function nextPageCommand(next: string, subscription: string | undefined, limit: number | undefined): string {
  return ['brigade dlq list', subscription === undefined ? '' : ` --subscription ${JSON.stringify(subscription)}`, limit === undefined ? '' : ` --limit ${limit}`, ` --before ${next}`].join('');
}
