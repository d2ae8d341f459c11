import type pg from 'pg';
import type { OutboxCheckpoint } from './claimOutboxBatch.ts';

/** An outbox row whose subject is another service's. */
export interface ForeignSubjectRow {
  readonly id: string;
  readonly messageId: string;
  readonly subject: string;
}

/**
 * The first row the relay would claim after `after` whose subject does not start with `prefix`
 * (`<service>.`), or null. Run on the relay's session (actor kind system) after the bus refused a
 * claim's insert, to tell the subject policy (platform migration 0020) from a missing grant (0007):
 * only a refusal, never per claim, so the scan's cost does not matter.
 */
export async function findForeignSubject(client: pg.ClientBase, table: string, after: OutboxCheckpoint, prefix: string): Promise<ForeignSubjectRow | null> {
  const { rows } = await client.query<{ id: string; message_id: string; subject: string }>(
    `select o.id, o.message_id, o.subject from ${table} o
      where (o.transaction_id, o.id) > ($1::xid8, $2::bigint) and o.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        and not starts_with(o.subject, $3::text)
      order by o.transaction_id, o.id
      limit 1`,
    [after.transactionId, after.id, prefix],
  );
  const row = rows[0];
  return row === undefined ? null : { id: row.id, messageId: row.message_id, subject: row.subject };
}
