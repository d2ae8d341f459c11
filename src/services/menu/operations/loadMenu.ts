import type { Tx } from '../../../platform/db/index.ts';
import { LIVE_MENU_SQL, MENU_AS_OF_SQL } from './menuDocumentSql.ts';

/** The menu document as JSON text, with its version (the ETag). */
export interface MenuDocument {
  readonly json: string;
  readonly version: number;
}

/** The live menu of a restaurant, or as it stood at `asOf` (history rows valid then). */
export async function loadMenu(tx: Tx, tenantId: string, currency: string, asOf?: Date): Promise<MenuDocument> {
  const version = Number(
    (
      await tx.query<{ version: string }>(
        asOf === undefined
          ? `select coalesce((select version from menu.menu_versions where tenant_id = $1), 0) as version`
          : `select count(*) as version from menu.history where tenant_id = $1 and valid_from <= $2`,
        asOf === undefined ? [tenantId] : [tenantId, asOf],
      )
    ).rows[0]?.version ?? 0,
  );
  const sql = asOf === undefined ? LIVE_MENU_SQL : MENU_AS_OF_SQL;
  const values = asOf === undefined ? [tenantId, currency, version] : [tenantId, currency, version, asOf];
  const row = await tx.query<{ doc: string }>(sql, values);
  return { json: row.rows[0]?.doc ?? '{}', version };
}
