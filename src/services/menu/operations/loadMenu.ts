import { isBadInstant, type Tx } from '../../../platform/db/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import { LIVE_MENU_SQL, MENU_AS_OF_SQL } from './menuDocumentSql.ts';

/** The menu document as JSON text, with its version (the ETag). */
export interface MenuDocument {
  readonly json: string;
  readonly version: number;
  /**
   * The live document's pause of new orders in force when it was read (decision 0094): null when the
   * restaurant takes orders (and for a document `asOf`, which has no such state); `untilMs`, the
   * instant it ends by itself in epoch milliseconds, or null (until resumed); `leftMs`, how long it had
   * left by the database's clock when the document was read (null with `untilMs`). Judge the pause's end
   * by `leftMs` and a clock of your own, never by `untilMs` and `Date.now()`: the hosts' clocks differ.
   */
  readonly pause: { readonly untilMs: number | null; readonly leftMs: number | null } | null;
}

/**
 * The live menu of a restaurant, or as it stood at `asOf` (history rows valid then), with the version
 * of that content, read in one statement.
 *
 * `asOf` is RFC 3339 text (the route's `date-time` format), bound as `timestamptz` as sent: history is
 * stored to the microsecond, and a JS Date would cut it to the millisecond, so an instant a version
 * began at read the version before it.
 *
 * @throws {ValidationError} an `asOf` that passes RFC 3339 but PostgreSQL cannot hold (400, `querystring.asOf`).
 */
export async function loadMenu(tx: Tx, tenantId: string, currency: string, asOf?: string): Promise<MenuDocument> {
  try {
    // One statement: the version and the content under one snapshot (menuDocumentSql).
    const { rows } = await tx.query<{ doc: string; version: string; paused?: boolean; paused_until_ms?: number | null; paused_left_ms?: number | null }>(asOf === undefined ? LIVE_MENU_SQL : MENU_AS_OF_SQL, asOf === undefined ? [tenantId, currency] : [tenantId, currency, asOf]);
    const row = rows[0];
    return { json: row?.doc ?? '{}', version: Number(row?.version ?? 0), pause: row?.paused === true ? { untilMs: row.paused_until_ms ?? null, leftMs: row.paused_left_ms ?? null } : null };
  } catch (error) {
    if (asOf !== undefined && isBadInstant(error)) {
      throw new ValidationError(`asOf ${JSON.stringify(asOf)} is not an instant PostgreSQL can hold (year 0000, or a zone offset beyond ±15:59): send one such as 2024-05-01T12:00:00.000000Z`, {
        field: 'querystring.asOf',
      });
    }
    throw error;
  }
}
