import { escapeIdentifier } from 'pg';
import type { Tx } from '../../db/index.ts';
import { validateServiceSchema } from '../validate.ts';
import { INBOX_RETENTION_FLOOR_MS } from './inboxRetentionSql.ts';

/**
 * Deletes up to `batchSize` claims of `<schema>.inbox` handled longer ago than `olderThanMs` (never
 * less than {@link INBOX_RETENTION_FLOOR_MS}, a day), oldest first, in the caller's transaction of the
 * consuming service; answers how many went. Passes of several processes may pick the same rows: the
 * later one waits for the earlier's commit and deletes what is left (the role may not lock rows, which
 * needs UPDATE). A pruned claim's message is long settled: a transport redelivers only what was not
 * acked (seconds after the handler's commit) and a relay republishes only what it published since its
 * last checkpoint, both far inside the day the inbox's delete policy keeps (decision 0092).
 *
 * @example
 * const deleted = await unitOfWork(ctx, (tx) => pruneInbox(tx, { schema: 'delivery', olderThanMs: 7 * 86_400_000 }));
 */
export async function pruneInbox(tx: Tx, options: { readonly schema: string; readonly olderThanMs: number; readonly batchSize?: number }): Promise<number> {
  validateServiceSchema(options.schema);
  const inbox = `${escapeIdentifier(options.schema)}.inbox`;
  const olderThanMs = Math.max(options.olderThanMs, INBOX_RETENTION_FLOOR_MS);
  const { rowCount } = await tx.query(
    `delete from ${inbox} where (subscription, message_id) in (
       select subscription, message_id from ${inbox}
        where handled_at < now() - make_interval(secs => $1::double precision / 1000)
        order by handled_at limit $2)`,
    [olderThanMs, options.batchSize ?? 1000],
  );
  return rowCount ?? 0;
}
