import type pg from 'pg';
import { HORIZON_SQL, sendBatch, type Statement } from '../db/index.ts';
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
  /** Oldest transaction still running in this database (`HORIZON_SQL`). */
  readonly xmin: bigint;
  /** Rows after the checkpoint are visible but not yet claimable (above the horizon): poll, do not sleep. */
  readonly pending: boolean;
}

/** `created_at` of the row aliased `alias` as ms since the epoch: a float the driver turns into a number, not a date string to parse. */
const createdMs = (alias: string) => `(extract(epoch from ${alias}.created_at) * 1000)::float8 as created_ms`;
const CLAIM_COLUMNS = 'o.id, o.transaction_id, o.message_id, o.subject, o.aggregate_key, o.headers, o.payload, o.created_at';
/**
 * The page after the checkpoint, as a subquery aliased `o` with the table's columns, to be ordered by
 * `o.transaction_id, o.id`: the first `limit` rows after the checkpoint in that order, then of those
 * only the ones below the horizon ({@link HORIZON_SQL}). The order starts with the transaction id, so
 * the rows below the horizon are a prefix of it, and this is the first `limit` of them, the page a
 * bound in the scan would give. The bound stays out of the scan for the plan's sake: the horizon is a
 * subquery, which the planner prices as keeping a third of the rows, and with the relay's policy on
 * top it took a backlog of 60,000 rows for 100 and sorted the whole outbox for each claim (the
 * claim's plan test). The ORDER BY names the columns through the alias: a select list that renames
 * them to text (`transaction_id::text as transaction_id`) would otherwise be what an unqualified
 * ORDER BY sorts, '1000' before '999', and the checkpoint would skip rows for good.
 */
const claimPage = (table: string) => `(select * from ${table} o
               where (o.transaction_id, o.id) > ($1::xid8, $2::bigint)
               order by o.transaction_id, o.id
               limit $3) o
        where o.transaction_id < ${HORIZON_SQL}`;

/** The claim read back to Node (the general path; exported for its plan's test). */
export function claimStatement(table: string, after: OutboxCheckpoint, limit: number): Statement {
  return {
    name: `brigade_claim_${table.replace(/\W+/g, '_')}`,
    text: `select o.id, o.transaction_id::text as transaction_id, o.message_id, o.subject, o.aggregate_key, o.headers, o.payload::text as payload, ${createdMs('o')}
               from ${claimPage(table)}
              order by o.transaction_id, o.id`,
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
    from (select ${CLAIM_COLUMNS} from ${claimPage(table)} order by o.transaction_id, o.id) c`,
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
  // HORIZON_SQL reads the statement's one snapshot: one bound for the statement; the scan runs
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

/** The oldest running transaction and whether rows after the checkpoint wait above the horizon. Run after an empty claim. */
export async function readOutboxHorizon(client: pg.ClientBase, table: string, after: OutboxCheckpoint): Promise<OutboxHorizon> {
  const { rows } = await client.query<{ xmin: string; pending: boolean }>(
    `select ${HORIZON_SQL}::text as xmin,
            exists (select 1 from ${table} where (transaction_id, id) > ($1::xid8, $2::bigint)) as pending`,
    [after.transactionId, after.id],
  );
  const row = rows[0]!;
  return { xmin: BigInt(row.xmin), pending: row.pending };
}
