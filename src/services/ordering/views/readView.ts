import { isBadInstant, type Tx } from '../../../platform/db/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import type { GlobalPosition } from '../../../platform/events/index.ts';
import { comparePositions, qualifiedTable, readCheckpoint, type Projection } from '../../../platform/projections/index.ts';
import type { RawViewRow } from './listQueries.ts';

/** A view row shaped for HTTP: camelCase keys, ISO instants, and `position` for its last event. */
export type ViewItem = Record<string, unknown>;

/** Which rows of a view to read: a WHERE over the view's alias `t`, with its bound values. */
export interface ViewQuery {
  readonly where: string;
  readonly values: readonly unknown[];
  readonly orderBy: string;
  readonly limit: number;
}

/** What {@link readView} read. */
export interface ViewRead {
  /** The projection's checkpoint, read before the rows: every row is at least as new as it says. */
  readonly checkpoint: GlobalPosition;
  /** The rows as `to_jsonb` gives them (empty when `behind`). */
  readonly rows: RawViewRow[];
  /** The checkpoint is before the `atLeast` asked for, and the rows were not read. */
  readonly behind: boolean;
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
 * Reads the projection's checkpoint and then a view's rows in the caller's transaction (RLS filters
 * the rows per actor). The rows come as `to_jsonb` gives them, whose instants keep their microseconds
 * for a merge of several databases' pages (`mergeViewRows`); shape them with {@link toViewItem}. With
 * `atLeast`, the rows are read only if the checkpoint is at or past it (else `behind`): a
 * read-your-writes read that finds the view caught up needs no other transaction.
 *
 * @example
 * const { checkpoint, rows } = await unitOfWork(pool, context, (tx) => readView(tx, board, boardQuery(rid, false)));
 * @throws {ValidationError} (field `before`) PostgreSQL refused an instant of the query as a date/time
 *   (22007, 22008, 22009): the lists bind one only from a page cursor.
 */
export async function readView(tx: Tx, projection: Projection, query: ViewQuery, options: { readonly atLeast?: GlobalPosition } = {}): Promise<ViewRead> {
  const checkpoint = await readCheckpoint(tx, projection);
  if (options.atLeast !== undefined && comparePositions(checkpoint, options.atLeast) < 0) return { checkpoint, rows: [], behind: true };
  try {
    const { rows } = await tx.query<{ row: RawViewRow }>(viewSql(projection, query));
    return { checkpoint, rows: rows.map((r) => r.row), behind: false };
  } catch (error) {
    // The lists bind an instant only from a page cursor (`before`), which `decodeCursor` checks already:
    // this maps one PostgreSQL still refuses to the 400 a bad cursor gets, not a 500.
    if (isBadInstant(error)) {
      throw new ValidationError('`before` is not a page cursor (its instant is not one PostgreSQL can hold): send the `next` of an earlier answer, unchanged', { field: 'querystring.before' });
    }
    throw error;
  }
}

/**
 * The statement of {@link readView} for `query`, its values with the limit bound after them (exported
 * for its plans' test). A limit that is not a whole number from 0 is refused (400 `VALIDATION_FAILED`,
 * field `limit`): before, it was written into the text, and `?limit=1e309`, which the query string's
 * validator once let through as Infinity, became `limit Infinity` and a 500.
 */
export function viewSql(projection: Pick<Projection, 'schema' | 'table'>, query: ViewQuery): { text: string; values: unknown[] } {
  if (!Number.isSafeInteger(query.limit) || query.limit < 0) throw new ValidationError(`limit must be a whole number from 0 (got ${String(query.limit)}); send a whole number within the range /docs gives`, { field: 'limit' });
  const values = [...query.values, query.limit];
  return { text: `select to_jsonb(t) as row from ${qualifiedTable(projection)} t where ${query.where} order by ${query.orderBy} limit $${values.length}`, values };
}
