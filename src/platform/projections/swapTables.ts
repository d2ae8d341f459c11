import pg from 'pg';
import { qualifiedTable } from './defineProjection.ts';
import { RebuildSchemaChangedError } from './errors.ts';
import { indexesOf } from './indexesOf.ts';
import { schemaDifferences } from './schemaDifferences.ts';
import { secureShadow } from './secureShadow.ts';
import type { Projection } from './types.ts';

/**
 * Inside the caller's transaction, as the tables' owner: takes the live table (ACCESS EXCLUSIVE, so
 * no DDL or grant can land on it any more), checks that it still has the shadow's shape, gives the
 * shadow the live table's RLS flags, policies, grants (table and column), settings (storage
 * parameters, statistics targets, comments, replica identity) and owner as they are now, then live →
 * old, shadow → live, old dropped, indexes given the live names.
 *
 * Why check and copy here: the shadow was made `LIKE` the live table when the rebuild started, and
 * secured before the replay's end; a migration, grant, policy or setting applied to the live table
 * since would go with the dropped table while the migrations table says it was applied.
 *
 * @throws {RebuildSchemaChangedError} the live table's columns, indexes or constraints no longer match
 *   the shadow's (nothing is swapped; the caller rolls back).
 */
export async function swapTables(owner: pg.PoolClient, projection: Projection, live: string, shadowName: string, oldName: string): Promise<void> {
  const esc = pg.escapeIdentifier;
  const schema = esc(projection.schema);
  const shadow = qualifiedTable(projection, shadowName);
  await owner.query(`lock table ${live} in access exclusive mode`);
  const differences = await schemaDifferences(owner, live, shadow);
  if (differences.length > 0) throw new RebuildSchemaChangedError(projection.name, live, differences);
  await secureShadow(owner, projection, shadowName);
  // Owned by the role that ran the rebuild until now: a later migration run as the live owner must be able to alter it.
  const owners = await owner.query<{ live: string; shadow: string }>(`select pg_get_userbyid(l.relowner) as live, pg_get_userbyid(s.relowner) as shadow from pg_class l, pg_class s where l.oid = $1::regclass and s.oid = $2::regclass`, [
    live,
    shadow,
  ]);
  const { live: liveOwner, shadow: shadowOwner } = owners.rows[0]!;
  if (liveOwner !== shadowOwner) await owner.query(`alter table ${shadow} owner to ${esc(liveOwner)}`);
  const liveIndexes = await indexesOf(owner, live);
  const shadowIndexes = await indexesOf(owner, shadow);
  await owner.query(`alter table ${live} rename to ${esc(oldName)}`);
  await owner.query(`alter table ${shadow} rename to ${esc(projection.table)}`);
  await owner.query(`drop table ${qualifiedTable(projection, oldName)}`);
  for (const index of shadowIndexes) {
    // Each live index names one shadow index: two alike (a duplicate index) get one name each.
    const at = liveIndexes.findIndex((l) => l.signature === index.signature);
    if (at === -1) continue;
    const [twin] = liveIndexes.splice(at, 1);
    if (twin!.name !== index.name) await owner.query(`alter index ${schema}.${esc(index.name)} rename to ${esc(twin!.name)}`);
  }
}
