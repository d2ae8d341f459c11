import type pg from 'pg';
import { sendBatch, type Statement } from '../db/index.ts';
import type { MessageHeaders } from '../messaging/index.ts';

/** An outbox row as the relay claims it. */
export interface OutboxRow {
  /** The row's identity value (a string: bigint). */
  readonly id: string;
  readonly messageId: string;
  readonly subject: string;
  readonly key: string;
  readonly headers: MessageHeaders;
  readonly payload: unknown;
  /** When the producing transaction began (the row's `created_at`). */
  readonly createdAt: Date;
  /** The writer's transaction id (xid8, decimal): with `id`, the row's place in the relay's order. */
  readonly transactionId: string;
}

/** The relay's position: the (transaction_id, id) of the last row the broker acked; `0`/`0` before the first. */
export interface OutboxCheckpoint {
  readonly transactionId: string;
  readonly id: string;
}

/** What the relay knows when a claim came back empty: whether to sleep yet. */
export interface OutboxHorizon {
  /** Oldest transaction still running (`pg_snapshot_xmin`), as a decimal string. */
  readonly xmin: bigint;
  /** First transaction id not yet assigned (`pg_snapshot_xmax`). */
  readonly xmax: bigint;
  /** Rows after the checkpoint are visible but not yet claimable (above the horizon): poll, do not sleep. */
  readonly pending: boolean;
}

/**
 * The next rows to publish: after the checkpoint, written by a transaction below the oldest one still
 * running, in (transaction_id, id) order. Below that bound the set of rows is final (decision 0011): nothing can
 * commit into it later, so the relay never passes a row that commits late, and one aggregate's rows
 * come in the order they were written. No row lock: one relay per outbox holds the leader lock, and this
 * runs on the session that holds it.
 */
export async function claimOutboxBatch(client: pg.ClientBase, table: string, after: OutboxCheckpoint, limit: number, alsoRun: readonly Statement[] = []): Promise<OutboxRow[]> {
  // pg_current_snapshot() is stable: one snapshot, hence one bound, for the statement; the scan runs
  // on the index outbox_relay_order from the checkpoint and stops after `limit` rows. `alsoRun` (the
  // previous batch's checkpoint) travels in the same round trip, after the claim, so the claim's
  // snapshot is taken before that write gives the relay's transaction an id.
  const [claimed] = await sendBatch(client, [
    {
      name: `brigade_claim_${table.replace(/\W+/g, '_')}`,
      text: `select id, transaction_id::text as transaction_id, message_id, subject, aggregate_key, headers, payload, created_at
               from ${table}
              where (transaction_id, id) > ($1::xid8, $2::bigint) and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              order by transaction_id, id
              limit $3`,
      values: [after.transactionId, after.id, limit],
    },
    ...alsoRun,
  ]);
  const rows = claimed!.rows as Array<{ id: string; transaction_id: string; message_id: string; subject: string; aggregate_key: string; headers: MessageHeaders; payload: unknown; created_at: Date }>;
  return rows.map((r) => ({
    id: r.id,
    transactionId: r.transaction_id,
    messageId: r.message_id,
    subject: r.subject,
    key: r.aggregate_key,
    headers: r.headers,
    payload: r.payload,
    createdAt: r.created_at,
  }));
}

/** The snapshot bounds and whether rows after the checkpoint wait above the horizon. Run after an empty claim. */
export async function readOutboxHorizon(client: pg.ClientBase, table: string, after: OutboxCheckpoint): Promise<OutboxHorizon> {
  const { rows } = await client.query<{ xmin: string; xmax: string; pending: boolean }>(
    `select pg_snapshot_xmin(s)::text as xmin, pg_snapshot_xmax(s)::text as xmax,
            exists (select 1 from ${table} where (transaction_id, id) > ($1::xid8, $2::bigint)) as pending
       from pg_current_snapshot() s`,
    [after.transactionId, after.id],
  );
  const row = rows[0]!;
  return { xmin: BigInt(row.xmin), xmax: BigInt(row.xmax), pending: row.pending };
}
