import { OPEN_ORDER_SQL, uuidOrNull } from './orderEventsOf.ts';
import type { ViewQuery } from './readView.ts';

/**
 * The WHERE of a list of open orders, unless `all`: stated with constants, so that the partial indexes
 * of open orders (ordering migration 0033) serve it.
 */
const open = (all: boolean | undefined) => (all === true ? '' : ` and ${OPEN_ORDER_SQL}`);

/** A view row as `to_jsonb(t)` gives it: the table's column names, instants as PostgreSQL's JSON text. */
export type RawViewRow = Readonly<Record<string, unknown>>;

/**
 * A list read in every database (an actor's rows at every restaurant, decision 0008): the query, and
 * its ORDER BY as a comparison of raw rows, with which the databases' pages (each in that order, each
 * at most `limit` rows) merge into the first `limit` rows of the whole.
 */
export interface MergedViewQuery extends ViewQuery {
  readonly compare: (a: RawViewRow, b: RawViewRow) => number;
}

/**
 * A courier's tasks, newest assignment first, open ones unless `all`. The subject is compared as uuid,
 * so that an index serves it (a cast of the column would scan the view); a subject that is no uuid
 * matches nothing, as the view's row-level security says anyway.
 */
export function courierTasksQuery(courierId: string, all: boolean | undefined, limit = 100): MergedViewQuery {
  return { where: `t.courier_id = $1::uuid${open(all)}`, values: [uuidOrNull(courierId)], orderBy: 't.assigned_at desc, t.order_id', limit, compare: newestFirst('assigned_at') };
}

/** A customer's orders, newest first, all of them unless `all` is false (see {@link courierTasksQuery} on the subject). */
export function customerOrdersQuery(customerId: string, all: boolean | undefined, limit = 100): MergedViewQuery {
  return { where: `t.customer_id = $1::uuid${open(all ?? true)}`, values: [uuidOrNull(customerId)], orderBy: 't.placed_at desc, t.order_id', limit, compare: newestFirst('placed_at') };
}

/**
 * `order by t.<column> desc, t.order_id` over raw rows, as PostgreSQL sorts: a null instant first (DESC
 * puts nulls first), later instants before earlier ones to the microsecond, then the order id ascending
 * (uuids sort as their lower-case text does).
 */
function newestFirst(column: string): MergedViewQuery['compare'] {
  return (a, b) => {
    const x = instantMicros(a[column]);
    const y = instantMicros(b[column]);
    if (x !== y) return x === null ? -1 : y === null ? 1 : y - x;
    const p = String(a.order_id);
    const q = String(b.order_id);
    return p < q ? -1 : p > q ? 1 : 0;
  };
}

const INSTANT = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(.*)$/;

/**
 * Microseconds since 1970 of a timestamptz as `to_jsonb` writes it (`2025-01-01T12:00:00.123456+00:00`),
 * or null for SQL null. `Date` keeps milliseconds only: the fraction is read on its own, so that two
 * instants in one millisecond sort as PostgreSQL sorts them. `infinity` sorts after every instant.
 */
function instantMicros(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  if (text === 'infinity') return Number.POSITIVE_INFINITY;
  if (text === '-infinity') return Number.NEGATIVE_INFINITY;
  const match = INSTANT.exec(text);
  if (match === null) return Date.parse(text) * 1000;
  return Date.parse(`${match[1]!}${match[3]!}`) * 1000 + Number((match[2] ?? '').padEnd(6, '0'));
}

/** A restaurant's live-board: its orders in placement order, open ones unless `all`. */
export function boardQuery(restaurantId: string, all: boolean | undefined, limit = 500): ViewQuery {
  return { where: `t.tenant_id = $1${open(all)}`, values: [restaurantId], orderBy: 't.placed_at, t.order_id', limit };
}
