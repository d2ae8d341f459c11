import type { Tx } from '../db/index.ts';
import type { AllRead, EventStore, GlobalPosition, RecordedEvent } from '../events/index.ts';
import { comparePositions, formatPosition } from './position.ts';

/** Events a tail keeps at most (the oldest go first). */
const KEEP = 4096;

/**
 * The recent end of one store's global order as this process has read it: events that are contiguous
 * in that order (none of the final order missing between them), kept so that the projections of a
 * store read each event from the database once instead of once each.
 */
interface Tail {
  events: RecordedEvent[];
  /** The absolute number of `events[0]`. */
  base: number;
  /** Checkpoint (formatted) → the absolute number of the first event after it. */
  readonly next: Map<string, number>;
  /** The checkpoint just before `events[0]`. */
  startKey: string;
  /** The read that extends the tail, while one runs. */
  extending: Promise<AllRead> | null;
}

const tails = new WeakMap<EventStore, Map<string, Tail>>();

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
 */
export async function readSharedPage(store: EventStore, service: string, tx: Tx, after: GlobalPosition, limit: number): Promise<AllRead> {
  const tail = tailOf(store, service);
  const key = formatPosition(after);
  for (;;) {
    const at = tail.next.get(key);
    if (at === undefined) {
      const page = await store.readAll(tx, { after, limit });
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
    const reading = store.readAll(tx, { after: end ?? after, limit });
    tail.extending = reading;
    let read: AllRead;
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

function tailOf(store: EventStore, service: string): Tail {
  let byService = tails.get(store);
  if (byService === undefined) tails.set(store, (byService = new Map()));
  let tail = byService.get(service);
  if (tail === undefined) byService.set(service, (tail = { events: [], base: 0, next: new Map(), startKey: '', extending: null }));
  return tail;
}

/** The checkpoint after the tail's last event, or null while it is empty. */
function endOf(tail: Tail): GlobalPosition | null {
  return tail.events.length === 0 ? null : tail.events[tail.events.length - 1]!.globalPosition;
}

function restart(tail: Tail, startKey: string, events: readonly RecordedEvent[]): void {
  tail.events = [];
  tail.next.clear();
  tail.base = 0;
  tail.startKey = startKey;
  tail.next.set(startKey, 0);
  append(tail, events);
  trim(tail);
}

function append(tail: Tail, events: readonly RecordedEvent[]): void {
  for (const e of events) {
    tail.events.push(e);
    tail.next.set(formatPosition(e.globalPosition), tail.base + tail.events.length);
  }
}

/** Drops the oldest events beyond {@link KEEP}, and the checkpoints that pointed into them. */
function trim(tail: Tail): void {
  const drop = tail.events.length - KEEP;
  if (drop <= 0) return;
  tail.next.delete(tail.startKey);
  for (const e of tail.events.slice(0, drop - 1)) tail.next.delete(formatPosition(e.globalPosition));
  tail.startKey = formatPosition(tail.events[drop - 1]!.globalPosition);
  tail.events = tail.events.slice(drop);
  tail.base += drop;
}

function pageOf(events: readonly RecordedEvent[], after: GlobalPosition): AllRead {
  return { events, checkpoint: events.length === 0 ? after : events[events.length - 1]!.globalPosition };
}
