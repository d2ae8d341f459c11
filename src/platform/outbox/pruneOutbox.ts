import type pg from 'pg';

/**
 * Deletes up to `limit` rows published more than `retentionMs` ago; returns how many. Rows are published
 * roughly in id order, so walking the primary key from the start finds them without an index on
 * `published_at` (which every mark would have to maintain).
 */
export async function pruneOutbox(client: pg.ClientBase, table: string, retentionMs: number, limit = 10_000): Promise<number> {
  const { rowCount } = await client.query(
    `delete from ${table} where id = any(array(
       select id from ${table}
        where published_at is not null and published_at < now() - make_interval(secs => $1::float8 / 1000)
        order by id limit $2))`,
    [retentionMs, limit],
  );
  return rowCount ?? 0;
}
