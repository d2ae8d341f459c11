import type { Tx } from '../db/index.ts';
import { readAllForFold, type AllRead, type EventStore, type FoldEvent, type FoldRead, type GlobalPosition, type RecordedEvent } from '../events/index.ts';
import { comparePositions } from './position.ts';
import type { Page } from './readAhead.ts';

/** Events a tail keeps at most (the oldest go first). */
const KEEP = 4096;

/**
 * The recent end of one store's global order as this process has read it: events that are contiguous
 * in that order (none of the final order missing between them), kept so that the projections of a
 * store read each event from the database once instead of once each.
 */
interface Tail<E extends FoldEvent> {
  /** How the tail reads a page from the database. */
  readonly read: (tx: Tx, after: GlobalPosition, limit: number) => Promise<Page<E>>;
  /** In the global order, contiguous. */
  events: E[];
  /** The checkpoint just before `events[0]`, or null before the first read. */
  start: GlobalPosition | null;
  /** The read that extends the tail, while one runs. */
  extending: Promise<Page<E>> | null;
  /** The checkpoints' epoch its events were read under (see {@link readSharedPage}). */
  readonly epoch: bigint;
}

/** Per database, store and service: the tail of whole envelopes and the tail of fold events. */
const envelopeTails = new WeakMap<object, WeakMap<EventStore, Map<string, Tail<RecordedEvent>>>>();
const foldTails = new WeakMap<object, WeakMap<EventStore, Map<string, Tail<FoldEvent>>>>();

/** The database key of callers that name none: right as long as they all read one database. */
export const ONE_DATABASE: object = Object.freeze({});

/** Where a page of {@link readSharedPage} comes from: the database and the checkpoints' epoch. */
export interface SharedPageSource {
  /** What identifies the database `tx` runs on (its pool). Default {@link ONE_DATABASE}. */
  readonly database?: object;
  /** The epoch of the asking batch's checkpoint row. Default 0. */
  readonly epoch?: bigint;
}

/**
 * `store.readAll(tx, { after, limit })` for live projection batches, shared by the projections of one
 * store and service in this process (decision 0064): the order views all read the same events, and
 * reading and parsing them was most of what a projector cost. A page that starts inside the tail is
 * served from it, and a page that runs past its end extends it by ONE read (in the asking batch's
 * transaction; others that ask meanwhile wait for that read). A page that starts elsewhere (a
 * projection catching up from far behind) is read on its own; one that starts past the tail's end
 * restarts the tail there.
 *
 * Correct because every read returns the immediate successors of its checkpoint in the final global
 * order (only events below the oldest running transaction, decision 0011), so the tail never has a
 * gap; and every projection of a store runs as the `system` actor of its service, so every read sees
 * the same events. A page from the tail may be shorter than a fresh read would be, which is what a
 * read that ran a moment earlier returns too. Events are shared between projections: apply must not
 * change them (they are `readonly`).
 *
 * `read: 'fold'` reads fold events (`readAllForFold`, decision 0070) into a tail of their own, shared
 * by the store's projections that read only those.
 *
 * `where.database` keys the tails by the database `tx` runs on (e.g. its pool): the same store has
 * other events in a tenant's dedicated database (decision 0008), and one database's tail must never
 * serve another's reads. Default {@link ONE_DATABASE}, for callers that only ever read one.
 *
 * `where.epoch` is the epoch of the asking batch's checkpoint row (`projection_checkpoints.epoch`, read
 * by `applyBatch` in the statement that locks the row; default 0). **A tail filled under another epoch
 * is dropped before it serves anything**, and a new one starts under the asking epoch. The epoch is
 * what makes the tail forget events that left the database: a tenant move deletes a restaurant's rows
 * from the shared database in a transaction that first adds one to the epoch of every checkpoint row
 * (after locking the table, so every batch that read the old epoch has ended and every later one reads
 * the new). The moved restaurant's events that a tail read before that commit would otherwise be
 * served to a projection that is behind, which would write view rows for them in the shared database
 * again. Reads of the database after the commit do not see those events, so a tail started under the
 * new epoch never holds them.
 */
export function readSharedPage(store: EventStore, service: string, tx: Tx, after: GlobalPosition, limit: number, read?: 'envelope', where?: SharedPageSource): Promise<AllRead>;
export function readSharedPage(store: EventStore, service: string, tx: Tx, after: GlobalPosition, limit: number, read: 'fold', where?: SharedPageSource): Promise<FoldRead>;
export function readSharedPage(
  store: EventStore,
  service: string,
  tx: Tx,
  after: GlobalPosition,
  limit: number,
  read: 'envelope' | 'fold' = 'envelope',
  where: SharedPageSource = {},
): Promise<AllRead | FoldRead> {
  const database = where.database ?? ONE_DATABASE;
  const epoch = where.epoch ?? 0n;
  return read === 'fold'
    ? sharedPage(tailOf(foldTails, database, store, service, epoch, (t, a, l) => readAllForFold(store, t, { after: a, limit: l })), tx, after, limit)
    : sharedPage(tailOf(envelopeTails, database, store, service, epoch, (t, a, l) => store.readAll(t, { after: a, limit: l })), tx, after, limit);
}

async function sharedPage<E extends FoldEvent>(tail: Tail<E>, tx: Tx, after: GlobalPosition, limit: number): Promise<Page<E>> {
  for (;;) {
    const from = indexAfter(tail, after);
    if (from === -1) {
      const page = await tail.read(tx, after, limit);
      const end = endOf(tail);
      if (tail.extending === null && page.events.length > 0 && (end === null || comparePositions(after, end) > 0)) restart(tail, after, page.events);
      return page;
    }
    if (tail.events.length - from >= limit) return pageOf(tail.events.slice(from, from + limit), after);
    if (tail.extending !== null) {
      await tail.extending.catch(() => undefined);
      continue;
    }
    const end = endOf(tail);
    // A whole page past the end, so that the next batches (of this and the other projections) find it.
    const reading = tail.read(tx, end ?? after, limit);
    tail.extending = reading;
    let read: Page<E>;
    try {
      read = await reading;
    } finally {
      tail.extending = null;
    }
    // `from` still holds: while a read extends the tail nothing else changes it, and this one only adds to its end.
    for (const e of read.events) tail.events.push(e);
    const page = pageOf(tail.events.slice(from, from + limit), after);
    trim(tail);
    return page;
  }
}

/**
 * The index in `tail.events` of the first event after checkpoint `after`, or -1 when `after` is
 * neither the tail's start nor one of its events. A binary search, as the events are in the global
 * order (`comparePositions`, no two alike): before it, a map from every event's formatted position
 * made two strings and an entry per event, and the live views cost about 10 µs more per event
 * (bench/projections/live.ts).
 */
function indexAfter(tail: Tail<FoldEvent>, after: GlobalPosition): number {
  if (tail.start === null) return -1;
  if (comparePositions(after, tail.start) === 0) return 0;
  let low = 0;
  let high = tail.events.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const order = comparePositions(tail.events[middle]!.globalPosition, after);
    if (order === 0) return middle + 1;
    if (order < 0) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/**
 * The tail of `database`, `store` and `service` under `epoch`: a tail of another epoch is replaced by a
 * new, empty one (a read still extending the old one ends on the old object, which nothing finds again).
 */
function tailOf<E extends FoldEvent>(
  tails: WeakMap<object, WeakMap<EventStore, Map<string, Tail<E>>>>,
  database: object,
  store: EventStore,
  service: string,
  epoch: bigint,
  read: Tail<E>['read'],
): Tail<E> {
  let byStore = tails.get(database);
  if (byStore === undefined) tails.set(database, (byStore = new WeakMap()));
  let byService = byStore.get(store);
  if (byService === undefined) byStore.set(store, (byService = new Map()));
  let tail = byService.get(service);
  if (tail === undefined || tail.epoch !== epoch) byService.set(service, (tail = { read, events: [], start: null, extending: null, epoch }));
  return tail;
}

/** The checkpoint after the tail's last event, or null while it is empty. */
function endOf(tail: Tail<FoldEvent>): GlobalPosition | null {
  return tail.events.length === 0 ? null : tail.events[tail.events.length - 1]!.globalPosition;
}

function restart<E extends FoldEvent>(tail: Tail<E>, start: GlobalPosition, events: readonly E[]): void {
  tail.events = [...events];
  tail.start = start;
  trim(tail);
}

/** Drops the oldest events beyond {@link KEEP}; the last one dropped becomes the tail's start. */
function trim(tail: Tail<FoldEvent>): void {
  const drop = tail.events.length - KEEP;
  if (drop <= 0) return;
  tail.start = tail.events[drop - 1]!.globalPosition;
  tail.events = tail.events.slice(drop);
}

function pageOf<E extends FoldEvent>(events: readonly E[], after: GlobalPosition): Page<E> {
  return { events, checkpoint: events.length === 0 ? after : events[events.length - 1]!.globalPosition };
}
