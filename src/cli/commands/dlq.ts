import { SERVICE_NAMES } from '../../composition/services.ts';
import { createTransport, openCommandDatabases } from '../../composition/runtime.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { dropDeadLetter, listDeadLetters, redriveDeadLetters, showDeadLetter } from '../../platform/messaging/index.ts';
import { flagsOnlyFor, parse } from '../parse.ts';
import { isUuid } from '../../platform/ids/index.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade dlq <list|show|redrive|drop> …

  brigade dlq list [--subscription S] [--limit N]
                                               Dead letters, newest failure first (the first N, default 100)
  brigade dlq show ID                          One dead letter: message, headers, error, attempts
  brigade dlq redrive ID | --all [--subscription S]
                                               Send it (or every one) back to its subscription
  brigade dlq drop ID                          Delete a dead letter for good
The same operations are at /v1/admin/dead-letters (admin token).`;

/** `brigade dlq …`. */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(args, { subscription: { type: 'string' }, all: { type: 'boolean' }, limit: { type: 'string' } }, usage, 2);
  if (values.help) return ctx.io.out(usage), 0;
  const [action, id] = positionals;
  const needsId = action === 'show' || action === 'drop' || (action === 'redrive' && values.all !== true);
  if (!['list', 'show', 'redrive', 'drop'].includes(action ?? '')) throw new UsageError(action === undefined ? 'Missing action' : `Unknown action ${JSON.stringify(action)}`, usage);
  if (needsId && id === undefined) throw new UsageError(`dlq ${action} needs an ID${action === 'redrive' ? ' or --all' : ''}`, usage);
  if (!needsId && id !== undefined) throw new UsageError(`Unexpected argument ${JSON.stringify(id)}`, usage);
  flagsOnlyFor('dlq', action, values, { all: ['redrive'], subscription: ['list', 'redrive'] }, usage);
  if (values.subscription !== undefined && action === 'redrive' && values.all !== true) throw new UsageError('--subscription goes with brigade dlq redrive --all (one ID names its letter)', usage);
  if (id !== undefined && !isUuid(id)) throw new UsageError(`A dead letter ID is a UUID (brigade dlq list shows them), got ${JSON.stringify(id)}`, usage);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (values.limit !== undefined && (action !== 'list' || !Number.isInteger(limit) || limit < 1 || limit > 10_000 || values.limit.trim() === '')) {
    throw new UsageError(action !== 'list' ? '--limit is for dlq list' : `--limit must be a whole number from 1 to 10000, got ${JSON.stringify(values.limit)}`, usage);
  }

  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  const { databases, close } = await openCommandDatabases(config, 2);
  const pool = databases.poolFor('platform');
  try {
    if (action === 'list') {
      const subscription = (values.subscription as string | undefined) ?? null;
      const letters = await listDeadLetters(pool, { limit, ...(subscription === null ? {} : { subscription }) });
      // The list stops at the limit: say how many there are in all.
      const total = Number((await pool.query<{ n: string }>('select count(*) as n from brigade_bus.dead_letters where ($1::text is null or subscription = $1)', [subscription])).rows[0]?.n ?? 0);
      ctx.io.out(`${'id'.padEnd(36)}  ${'subscription'.padEnd(24)}  ${'subject'.padEnd(32)}  attempts  last failure`);
      for (const l of letters) {
        ctx.io.out(`${l.id}  ${l.subscription.padEnd(24)}  ${l.message.subject.padEnd(32)}  ${String(l.attempts).padStart(8)}  ${l.lastFailedAt.toISOString()}  ${l.error.split('\n')[0]}`);
      }
      ctx.io.out(total > letters.length ? `${total} dead letter(s), showing the first ${letters.length} (newest failure first; --limit N for more)` : `${total} dead letter(s)`);
    } else if (action === 'show') {
      ctx.io.out(JSON.stringify(await showDeadLetter(pool, id as string), null, 2));
    } else if (action === 'drop') {
      await dropDeadLetter(pool, id as string);
      ctx.io.out(`dropped ${id}`);
    } else {
      const transport = await createTransport(config, pool);
      try {
        if (id !== undefined) await showDeadLetter(pool, id);
        const selection = id !== undefined ? { id } : values.subscription === undefined ? { all: true as const } : { all: true as const, subscription: values.subscription as string };
        const { redriven, failed } = await redriveDeadLetters(pool, transport, selection);
        ctx.io.out(`redriven ${redriven} dead letter(s)`);
        for (const f of failed) ctx.io.err(`${f.id} (${f.subscription}) could not go back: ${f.error}`);
        if (failed.length > 0) {
          ctx.io.err(`${failed.length} dead letter(s) stayed: fix what their errors say (a removed or renamed subscription), then 'brigade dlq redrive ID', or 'brigade dlq drop ID'`);
          return 1;
        }
      } finally {
        await transport.close();
      }
    }
    return 0;
  } finally {
    await close();
  }
}
