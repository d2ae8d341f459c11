import type pg from 'pg';

/**
 * Deletes bus messages every subscription has acked (no delivery left) once they are older than the
 * dedupe window (`olderThanMs`, default 2 minutes, like JetStream's duplicate window): until then a
 * re-published id must still find its row to be dropped as a duplicate. Returns how many went.
 */
export async function pruneBus(pool: pg.Pool, options: { readonly olderThanMs?: number } = {}): Promise<number> {
  const { rowCount } = await pool.query(
    `delete from brigade_bus.messages m
     where m.published_at < now() - make_interval(secs => $1::double precision / 1000)
       and not exists (select 1 from brigade_bus.deliveries d where d.message_id = m.id)`,
    [options.olderThanMs ?? 120_000],
  );
  return rowCount ?? 0;
}
