import type pg from 'pg';

/** Marks rows published (after the broker acked them). One statement for the batch. */
export async function markPublished(client: pg.ClientBase, table: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`update ${table} set published_at = now() where id = any($1::bigint[])`, [ids]);
}
