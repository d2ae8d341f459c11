import type pg from 'pg';
import { sendBatch, type Statement } from '../db/index.ts';
import { busPublishSql, withSerializedPayload, type MessageHeaders, type OutgoingMessage } from '../messaging/index.ts';

/** An outbox row as the relay claims it. */
export interface OutboxRow {
  /** The row's identity value (a string: bigint). */
  readonly id: string;
  /** The writer's transaction id (xid8, decimal): with `id`, the row's place in the relay's order. */
  readonly transactionId: string;
  /** When the producing transaction began (the row's `created_at`), in ms since the epoch. */
  readonly createdAtMs: number;
  /**
   * The broker message, built once per claimed row: the row's message id is the dedupe key, and the
   * payload goes out as the stored JSON text (`null` when the claim did not read it back).
   */
  readonly message: OutgoingMessage;
}

/** The relay's position: the (transaction_id, id) of the last row the broker acked; `0`/`0` before the first. */
export interface OutboxCheckpoint {
  readonly transactionId: string;
  readonly id: string;
}

/** What the relay knows when a claim came back empty: whether to sleep yet. */
export interface OutboxHorizon {
  /** Oldest transaction still running (`pg_snapshot_xmin`). */
  readonly xmin: bigint;
  /** Rows after the checkpoint are visible but not yet claimable (above the horizon): poll, do not sleep. */
  readonly pending: boolean;
}

/** `created_at` of the row aliased `alias` as ms since the epoch: a float the driver turns into a number, not a date string to parse. */
const createdMs = (alias: string) => `(extract(epoch from ${alias}.created_at) * 1000)::float8 as created_ms`;
const CLAIM_COLUMNS = 'o.id, o.transaction_id, o.message_id, o.subject, o.aggregate_key, o.headers, o.payload, o.created_at';
/**
 * The page after the checkpoint, on the table aliased `o`. The ORDER BY names the table's columns
 * through the alias: a select list that renames them to text (`transaction_id::text as transaction_id`)
 * would otherwise be what an unqualified ORDER BY sorts, '1000' before '999', and the LIMIT would
 * take rows past others not yet published, which the checkpoint would then skip for good.
 */
const CLAIM_PAGE = `where (o.transaction_id, o.id) > ($1::xid8, $2::bigint) and o.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              order by o.transaction_id, o.id
              limit $3`;

/** The claim read back to Node (the general path; exported for its plan's test). */
export function claimStatement(table: string, after: OutboxCheckpoint, limit: number): Statement {
  return {
    name: `brigade_claim_${table.replace(/\W+/g, '_')}`,
    text: `select o.id, o.transaction_id::text as transaction_id, o.message_id, o.subject, o.aggregate_key, o.headers, o.payload::text as payload, ${createdMs('o')}
               from ${table} o ${CLAIM_PAGE}`,
    values: [after.transactionId, after.id, limit],
  };
}

/**
 * The same claim, published to the PostgreSQL bus of the same database by the same statement
 * (`busPublishSql`, decision 0056): the rows never leave the server. The bus keeps the claim order;
 * the payload is not read back (the returned rows' messages carry `null`). Exported for its plan's test.
 */
export function claimToBusStatement(table: string, after: OutboxCheckpoint, limit: number): Statement {
  return {
    name: `brigade_claim_to_bus_${table.replace(/\W+/g, '_')}`,
    text: busPublishSql(
      `
  select c.message_id as id, c.subject, c.aggregate_key as key, c.headers, c.payload,
         row_number() over (order by c.transaction_id, c.id) as ord, c.id as outbox_id, c.transaction_id, c.created_at
    from (select ${CLAIM_COLUMNS} from ${table} o ${CLAIM_PAGE}) c`,
      `select i.outbox_id as id, i.transaction_id::text as transaction_id, i.id as message_id, i.subject, i.key as aggregate_key, i.headers,
        null::text as payload, ${createdMs('i')}
   from input i cross join woken order by i.ord`,
    ),
    values: [after.transactionId, after.id, limit],
  };
}

/**
 * The next rows to publish: after the checkpoint, written by a transaction below the oldest one still
 * running, in (transaction_id, id) order. Below that bound the set of rows is final (decision 0011): nothing can
 * commit into it later, so the relay never passes a row that commits late, and one aggregate's rows
 * come in the order they were written. No row lock: one relay per outbox holds the leader lock, and this
 * runs on the session that holds it.
 */
export async function claimOutboxBatch(
  client: pg.ClientBase,
  table: string,
  after: OutboxCheckpoint,
  limit: number,
  alsoRun: readonly Statement[] = [],
  toBus = false,
): Promise<OutboxRow[]> {
  // pg_current_snapshot() is stable: one snapshot, hence one bound, for the statement; the scan runs
  // on the index outbox_relay_order from the checkpoint and stops after `limit` rows. `alsoRun` (the
  // previous batch's checkpoint) travels in the same round trip, after the claim, so the claim's
  // snapshot is taken before that write gives the relay's transaction an id.
  const [claimed] = await sendBatch(client, [toBus ? claimToBusStatement(table, after, limit) : claimStatement(table, after, limit), ...alsoRun]);
  const rows = claimed!.rows as Array<{ id: string; transaction_id: string; message_id: string; subject: string; aggregate_key: string; headers: MessageHeaders; payload: string | null; created_ms: number }>;
  return rows.map((r) => ({
    id: r.id,
    transactionId: r.transaction_id,
    createdAtMs: r.created_ms,
    message: withSerializedPayload({ id: r.message_id, subject: r.subject, key: r.aggregate_key, headers: r.headers }, r.payload ?? 'null'),
  }));
}

/**
 * The horizon read after an empty claim (exported for its plan's test). Both ends of the range are
 * stated, as in `outboxBacklogStatement`: with the lower one alone (the row comparison) an unanalysed
 * outbox, a new service's or one that grew since autovacuum last came, was read with a Seq Scan over
 * every row kept for the retention, after every empty claim (200,000 published rows: 35 to 95 ms a
 * read; the closed range on outbox_relay_order: under 0.2 ms). The upper end never excludes a row:
 * every row this snapshot sees was written by a transaction below its xmax.
 */
export function horizonStatement(table: string, after: OutboxCheckpoint): Statement {
  return {
    text: `select pg_snapshot_xmin(s)::text as xmin,
            exists (select 1 from ${table} o
                     where o.transaction_id >= $1::xid8 and o.transaction_id < pg_snapshot_xmax(pg_current_snapshot())
                       and (o.transaction_id, o.id) > ($1::xid8, $2::bigint)) as pending
       from pg_current_snapshot() s`,
    values: [after.transactionId, after.id],
  };
}

/** The oldest running transaction and whether rows after the checkpoint wait above the horizon. Run after an empty claim. */
export async function readOutboxHorizon(client: pg.ClientBase, table: string, after: OutboxCheckpoint): Promise<OutboxHorizon> {
  const statement = horizonStatement(table, after);
  const { rows } = await client.query<{ xmin: string; pending: boolean }>(statement.text, [...(statement.values ?? [])]);
  const row = rows[0]!;
  return { xmin: BigInt(row.xmin), pending: row.pending };
}
