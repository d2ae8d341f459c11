import type { Tx } from '../../../platform/db/index.ts';
import type { GlobalPosition } from '../../../platform/events/index.ts';
import { formatPosition, qualifiedTable, readCheckpoint, type Projection } from '../../../platform/projections/index.ts';

/** A view row shaped for HTTP: camelCase keys, ISO instants, and `position` for its last event. */
export type ViewItem = Record<string, unknown>;

/** Which rows of a view to read: a WHERE over the view's alias `t`, with its bound values. */
export interface ViewQuery {
  readonly where: string;
  readonly values: readonly unknown[];
  readonly orderBy: string;
  readonly limit: number;
}

const INSTANT_COLUMNS = new Set(['placed_at', 'accepted_at', 'ready_at', 'assigned_at', 'updated_at']);
const HIDDEN = new Set(['tenant_id', 'last_transaction_id', 'last_position']);

/** Shapes one row (as `to_jsonb` gives it) for HTTP. */
export function toViewItem(row: Record<string, unknown>): ViewItem {
  const out: ViewItem = {};
  for (const [column, value] of Object.entries(row)) {
    if (HIDDEN.has(column)) continue;
    const key = column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    out[key] = INSTANT_COLUMNS.has(column) && typeof value === 'string' ? new Date(value).toISOString() : value;
  }
  out.position = `${String(row.last_transaction_id)}.${String(row.last_position)}`;
  return out;
}

/**
 * Reads a view's rows and the projection's checkpoint in the caller's transaction (RLS filters the
 * rows per actor). The checkpoint is read first, so every row is at least as new as it says.
 */
export async function readView(tx: Tx, projection: Projection, query: ViewQuery): Promise<{ checkpoint: GlobalPosition; position: string; items: ViewItem[] }> {
  const checkpoint = await readCheckpoint(tx, projection);
  const { rows } = await tx.query<{ row: Record<string, unknown> }>(viewSql(projection, query), [...query.values]);
  return { checkpoint, position: formatPosition(checkpoint), items: rows.map((r) => toViewItem(r.row)) };
}

/** The statement of {@link readView} for `query` (exported for its plans' test). */
export function viewSql(projection: Pick<Projection, 'schema' | 'table'>, query: ViewQuery): string {
  return `select to_jsonb(t) as row from ${qualifiedTable(projection)} t where ${query.where} order by ${query.orderBy} limit ${Math.trunc(query.limit)}`;
}
