import type { Tx } from '../db/index.ts';

/**
 * The dedicated databases of the placement catalog (`platform.tenant_placements`): each connection
 * string once, in a stable order. Read by a transaction that may see the catalog (the platform
 * service as an admin actor); connection strings never leave the platform's own code.
 */
export async function listDedicatedDatabases(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query<{ url: string }>(
    `select distinct database_url as url from platform.tenant_placements where coalesce(database_url, '') <> '' order by 1`,
  );
  return rows.map((r) => r.url);
}
