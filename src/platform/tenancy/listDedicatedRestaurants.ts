import type { Tx } from '../db/index.ts';

/** A dedicated database of the placement catalog and the restaurants placed there (one since platform migration 0018). */
export interface DedicatedDatabaseRestaurants {
  /** Its connection string: never shown (it may hold a password). */
  readonly url: string;
  readonly restaurants: ReadonlyArray<{ readonly id: string; readonly name: string }>;
}

/**
 * The dedicated databases of the placement catalog (`platform.tenant_placements`), each once with the
 * restaurants placed in it, in a stable order: what a command that fails on one of them tells the
 * operator it belongs to. Read by a transaction that may see the catalog (the platform service as an
 * admin actor, as `listDedicatedDatabases`); connection strings never leave the platform's code.
 */
export async function listDedicatedRestaurants(tx: Tx): Promise<DedicatedDatabaseRestaurants[]> {
  const { rows } = await tx.query<{ url: string; id: string; name: string }>(
    `select p.database_url as url, p.tenant_id as id, r.name
       from platform.tenant_placements p
       join platform.restaurants r on r.id = p.tenant_id
      where coalesce(p.database_url, '') <> ''
      order by p.database_url, r.name, p.tenant_id`,
  );
  const byUrl = new Map<string, Array<{ id: string; name: string }>>();
  for (const row of rows) {
    if (!byUrl.has(row.url)) byUrl.set(row.url, []);
    byUrl.get(row.url)?.push({ id: row.id, name: row.name });
  }
  return [...byUrl].map(([url, restaurants]) => ({ url, restaurants }));
}
