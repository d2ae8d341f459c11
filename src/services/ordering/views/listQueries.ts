import { encodePageCursor, pageCursorParts } from '../../../api/index.ts';
import { isUuid } from '../../../platform/ids/index.ts';
import { OPEN_ORDER_SQL, uuidOrNull } from './orderEventsOf.ts';
import type { ViewQuery } from './readView.ts';

/**
 * The WHERE of a list of open orders, unless `all`: stated with constants, so that the partial indexes
 * of open orders (ordering migration 0033) serve it.
 */
const open = (all: boolean | undefined) => (all === true ? '' : ` and ${OPEN_ORDER_SQL}`);

/** A view row as `to_jsonb(t)` gives it: the table's column names, instants as PostgreSQL's JSON text. */
export type RawViewRow = Readonly<Record<string, unknown>>;

/** A list read in one database, a page at a time: the query, and the column its page cursors carry. */
export interface PagedViewQuery extends ViewQuery {
  /** The column the list is sorted by first, which its page cursors carry (with the order id). */
  readonly sortKey: string;
}

/**
 * A list read in every database (an actor's rows at every restaurant, decision 0008): the query, and
 * its ORDER BY as a comparison of raw rows, with which the databases' pages (each in that order, each
 * at most `limit` rows) merge into the first `limit` rows of the whole.
 */
export interface MergedViewQuery extends PagedViewQuery {
  readonly compare: (a: RawViewRow, b: RawViewRow) => number;
}

/**
 * A courier's tasks, newest assignment first, open ones unless `all`. The subject is compared as uuid,
 * so that an index serves it (a cast of the column would scan the view); a subject that is no uuid
 * matches nothing, as the view's row-level security says anyway.
 */
export function courierTasksQuery(courierId: string, all: boolean | undefined, limit = 100, before?: PageCursor): MergedViewQuery {
  const [page, values] = pastCursor('assigned_at', before, 2);
  return {
    where: `t.courier_id = $1::uuid${open(all)}${page}`,
    values: [uuidOrNull(courierId), ...values],
    orderBy: 't.assigned_at desc, t.order_id',
    limit,
    compare: newestFirst('assigned_at'),
    sortKey: 'assigned_at',
  };
}

/** A customer's orders, newest first, all of them unless `all` is false (see {@link courierTasksQuery} on the subject). */
export function customerOrdersQuery(customerId: string, all: boolean | undefined, limit = 100, before?: PageCursor): MergedViewQuery {
  const [page, values] = pastCursor('placed_at', before, 2);
  return {
    where: `t.customer_id = $1::uuid${open(all ?? true)}${page}`,
    values: [uuidOrNull(customerId), ...values],
    orderBy: 't.placed_at desc, t.order_id',
    limit,
    compare: newestFirst('placed_at'),
    sortKey: 'placed_at',
  };
}

/**
 * Where a page of a list starts: the sort key (an instant as `to_jsonb` writes it, to the
 * microsecond, or null) and the order id of the last row of the page before.
 */
export interface PageCursor {
  readonly at: string | null;
  readonly orderId: string;
}

/** The cursor a client sends back as `before` to read the rows after `row` (opaque: base64url JSON). */
export function encodeCursor(row: RawViewRow, sortKey: string): string {
  const at = row[sortKey];
  return encodePageCursor([at === null || at === undefined ? null : String(at), String(row.order_id)]);
}

const CURSOR_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:[+-](\d{2}):(\d{2})|Z)$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether `text` is an instant in the form `to_jsonb` writes that PostgreSQL holds as `timestamptz`:
 * a real calendar date (29 February only in a leap year, no year 0000), a time of day up to
 * `24:00:00` (which PostgreSQL takes as the next midnight), and a zone offset up to ±15:59. V8's
 * `Date.parse` is no check: it takes 30 February (as 2 March) and year 0000, which PostgreSQL refuses
 * (22008), and the list answered 500.
 */
function isCursorInstant(text: string): boolean {
  const match = CURSOR_INSTANT.exec(text);
  if (match === null) return false;
  const [year, month, day, hour, minute, second, fraction, offsetHours, offsetMinutes] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  if (minute > 59 || second > 59 || offsetHours > 15 || offsetMinutes > 59) return false;
  return hour < 24 || (hour === 24 && minute === 0 && second === 0 && fraction === 0);
}

/** The cursor {@link encodeCursor} wrote, or null when `text` is not one. */
export function decodeCursor(text: string): PageCursor | null {
  const parts = pageCursorParts(text, 2);
  if (parts === null) return null;
  const [at, orderId] = parts;
  if (typeof orderId !== 'string' || !isUuid(orderId)) return null;
  if (at !== null && (typeof at !== 'string' || !isCursorInstant(at))) return null;
  return { at, orderId };
}

/**
 * The rows after the cursor's in `order by t.<column> desc, t.order_id` (nulls first, as DESC sorts
 * them): a later key, or the same key and a higher id. Values are bound from `$first`.
 */
function pastCursor(column: string, before: PageCursor | undefined, first: number): [string, unknown[]] {
  if (before === undefined) return ['', []];
  if (before.at === null) return [` and (t.${column} is not null or t.order_id > $${first}::uuid)`, [before.orderId]];
  return [` and (t.${column} < $${first}::timestamptz or (t.${column} = $${first}::timestamptz and t.order_id > $${first + 1}::uuid))`, [before.at, before.orderId]];
}

/**
 * The rows after the cursor's in `order by t.<column>, t.order_id` (nulls last, as ASC sorts them): a
 * later key, the same key and a higher id, or no key; after a null key, only a higher id with none.
 * Values are bound from `$first`.
 */
function pastCursorAscending(column: string, after: PageCursor | undefined, first: number): [string, unknown[]] {
  if (after === undefined) return ['', []];
  if (after.at === null) return [` and t.${column} is null and t.order_id > $${first}::uuid`, [after.orderId]];
  return [
    ` and (t.${column} > $${first}::timestamptz or (t.${column} = $${first}::timestamptz and t.order_id > $${first + 1}::uuid) or t.${column} is null)`,
    [after.at, after.orderId],
  ];
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

/**
 * A restaurant's live-board: its orders in placement order, oldest first (the order a kitchen works
 * in), open ones unless `all`; with `before` (a cursor of an earlier page's last row), the orders after
 * it. A page of open orders still reads the index of open orders (ordering migration 0033).
 */
export function boardQuery(restaurantId: string, all: boolean | undefined, limit = 500, before?: PageCursor): PagedViewQuery {
  const [page, values] = pastCursorAscending('placed_at', before, 2);
  return { where: `t.tenant_id = $1${open(all)}${page}`, values: [restaurantId, ...values], orderBy: 't.placed_at, t.order_id', limit, sortKey: 'placed_at' };
}
