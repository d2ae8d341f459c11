import type pg from 'pg';

/**
 * Deletes stored payloads that no subscription still has to ack, if older than `graceMs` (default one
 * hour: a handler that succeeded but whose ack was lost is redelivered and must still find the payload).
 * Returns how many payloads went.
 */
export async function purgeClaimChecks(pool: pg.Pool, options: { readonly graceMs?: number } = {}): Promise<number> {
  const { rowCount } = await pool.query(
    `delete from brigade_bus.claim_checks c
     where c.created_at < now() - make_interval(secs => $1::double precision / 1000)
       and not exists (select 1 from brigade_bus.claim_check_refs r where r.sha256 = c.sha256)`,
    [options.graceMs ?? 3_600_000],
  );
  return rowCount ?? 0;
}
