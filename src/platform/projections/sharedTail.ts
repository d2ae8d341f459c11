import type { Tx } from '../db/index.ts';
import { readAllForFold, type AllRead, type EventStore, type FoldEvent, type FoldRead, type GlobalPosition, type RecordedEvent } from '../events/index.ts';
import { comparePositions, formatPosition } from './position.ts';

/** Events a tail keeps at most (the oldest go first). */
const KEEP = 4096;

/** A page of the global order, of whole envelopes or of fold events. */
interface Page<E extends FoldEvent> {
  readonly events: readonly E[];
  readonly checkpoint: GlobalPosition;
}

/**
 * The recent end of one store's global order as this process has read it: events that are contiguous
 * in that order (none of the final order missing between them), kept so that the projections of a
 * store read each event from the database once instead of once each.
 */
interface Tail<E extends FoldEvent> {
  /** How the tail reads a page from the database. */
  readonly read: (tx: Tx, after: GlobalPosition, limit: number) => Promise<Page<E>>;
  events: E[];
  /** The absolute number of `events[0]`. */
  base: number;
  /** Checkpoint (formatted) → the absolute number of the first event after it. */
  readonly next: Map<string, number>;
  /** The checkpoint just before `events[0]`. */
  startKey: string;
  /** The read that extends the tail, while one runs. */
  extending: Promise<Page<E>> | null;
}

/** Per store and service: the tail of whole envelopes and the tail of fold events. */
const envelopeTails = new WeakMap<EventStore, Map<string, Tail<RecordedEvent>>>();
const foldTails = new WeakMap<EventStore, Map<string, Tail<FoldEvent>>>();

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
 */
export function readSharedPage(store: EventStore, service: string, tx: Tx, after: GlobalPosition, limit: number, read?: 'envelope'): Promise<AllRead>;
export function readSharedPage(store: EventStore, service: string, tx: Tx, after: GlobalPosition, limit: number, read: 'fold'): Promise<FoldRead>;
export function readSharedPage(store: EventStore, service: string, tx: Tx, after: GlobalPosition, limit: number, read: 'envelope' | 'fold' = 'envelope'): Promise<AllRead | FoldRead> {
  return read === 'fold'
    ? sharedPage(tailOf(foldTails, store, service, (t, a, l) => readAllForFold(store, t, { after: a, limit: l })), tx, after, limit)
    : sharedPage(tailOf(envelopeTails, store, service, (t, a, l) => store.readAll(t, { after: a, limit: l })), tx, after, limit);
}

async function sharedPage<E extends FoldEvent>(tail: Tail<E>, tx: Tx, after: GlobalPosition, limit: number): Promise<Page<E>> {
  const key = formatPosition(after);
  for (;;) {
    const at = tail.next.get(key);
    if (at === undefined) {
      const page = await tail.read(tx, after, limit);
      const end = endOf(tail);
      if (tail.extending === null && page.events.length > 0 && (end === null || comparePositions(after, end) > 0)) restart(tail, key, page.events);
      return page;
    }
    const from = at - tail.base;
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
    append(tail, read.events);
    const start = tail.next.get(key)! - tail.base;
    const page = pageOf(tail.events.slice(start, start + limit), after);
    trim(tail);
    return page;
  }
}

function tailOf<E extends FoldEvent>(tails: WeakMap<EventStore, Map<string, Tail<E>>>, store: EventStore, service: string, read: Tail<E>['read']): Tail<E> {
  let byService = tails.get(store);
  if (byService === undefined) tails.set(store, (byService = new Map()));
  let tail = byService.get(service);
  if (tail === undefined) byService.set(service, (tail = { read, events: [], base: 0, next: new Map(), startKey: '', extending: null }));
  return tail;
}

/** The checkpoint after the tail's last event, or null while it is empty. */
function endOf(tail: Tail<FoldEvent>): GlobalPosition | null {
  return tail.events.length === 0 ? null : tail.events[tail.events.length - 1]!.globalPosition;
}

function restart<E extends FoldEvent>(tail: Tail<E>, startKey: string, events: readonly E[]): void {
  tail.events = [];
  tail.next.clear();
  tail.base = 0;
  tail.startKey = startKey;
  tail.next.set(startKey, 0);
  append(tail, events);
  trim(tail);
}

function append<E extends FoldEvent>(tail: Tail<E>, events: readonly E[]): void {
  for (const e of events) {
    tail.events.push(e);
    tail.next.set(formatPosition(e.globalPosition), tail.base + tail.events.length);
  }
}

/** Drops the oldest events beyond {@link KEEP}, and the checkpoints that pointed into them. */
function trim(tail: Tail<FoldEvent>): void {
  const drop = tail.events.length - KEEP;
  if (drop <= 0) return;
  tail.next.delete(tail.startKey);
  for (const e of tail.events.slice(0, drop - 1)) tail.next.delete(formatPosition(e.globalPosition));
  tail.startKey = formatPosition(tail.events[drop - 1]!.globalPosition);
  tail.events = tail.events.slice(drop);
  tail.base += drop;
}

function pageOf<E extends FoldEvent>(events: readonly E[], after: GlobalPosition): Page<E> {
  return { events, checkpoint: events.length === 0 ? after : events[events.length - 1]!.globalPosition };
}
