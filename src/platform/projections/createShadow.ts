import pg from 'pg';
import { NO_FLUSH_WAIT } from '../db/index.ts';
import { copyTableSettings } from './copyTableSettings.ts';
import { qualifiedTable } from './defineProjection.ts';
import { inTransaction } from './inTransaction.ts';
import { revokeTableGrantsSql } from './tableGrants.ts';
import type { Projection } from './types.ts';

/**
 * Creates the shadow table `<schema>.<shadowName>` like the live one: columns, defaults, checks,
 * indexes (`LIKE … INCLUDING ALL`), and the settings `LIKE` leaves out (`copyTableSettings`: a
 * fillfactor, say, which the replay's writes must honour), replacing a leftover of a failed rebuild. Nothing else yet: no
 * grants (those the schema's default privileges gave are revoked, so only the owner can see it) and
 * no row-level security, so the owner can bulk-load it with COPY; `secureShadow` adds the live
 * table's before any other role uses it.
 */
export async function createShadow(owner: pg.ClientBase, projection: Projection, shadowName: string): Promise<void> {
  const shadow = qualifiedTable(projection, shadowName);
  await inTransaction(owner, { service: projection.service }, async (tx) => {
    await tx.query(NO_FLUSH_WAIT); // the shadow is disposable until the swap commits
    await tx.query(`drop table if exists ${shadow}`);
    await tx.query(`create table ${shadow} (like ${qualifiedTable(projection)} including all)`);
    for (const sql of await revokeTableGrantsSql(tx, shadow)) await tx.query(sql);
    await copyTableSettings(owner, qualifiedTable(projection), shadow);
  });
}
