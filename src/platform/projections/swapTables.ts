import pg from 'pg';
import { qualifiedTable } from './defineProjection.ts';
import type { Projection } from './types.ts';

/** Inside the caller's transaction: live → old, shadow → live, old dropped, indexes given the live names. */
export async function swapTables(owner: pg.PoolClient, projection: Projection, live: string, shadowName: string, oldName: string): Promise<void> {
  const esc = pg.escapeIdentifier;
  const schema = esc(projection.schema);
  const indexes = async (table: string) =>
    (
      await owner.query<{ name: string; signature: string }>(
        `select c.relname as name,
                i.indisunique::text || i.indisprimary::text || split_part(pg_get_indexdef(i.indexrelid), ' USING ', 2) as signature
           from pg_index i join pg_class c on c.oid = i.indexrelid
          where i.indrelid = $1::regclass`,
        [table],
      )
    ).rows;
  const liveIndexes = await indexes(live);
  const shadowIndexes = await indexes(qualifiedTable(projection, shadowName));
  await owner.query(`lock table ${live} in access exclusive mode`);
  await owner.query(`alter table ${live} rename to ${esc(oldName)}`);
  await owner.query(`alter table ${qualifiedTable(projection, shadowName)} rename to ${esc(projection.table)}`);
  await owner.query(`drop table ${qualifiedTable(projection, oldName)}`);
  for (const index of shadowIndexes) {
    const twin = liveIndexes.find((l) => l.signature === index.signature);
    if (twin !== undefined && twin.name !== index.name) await owner.query(`alter index ${schema}.${esc(index.name)} rename to ${esc(twin.name)}`);
  }
}
