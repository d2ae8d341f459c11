import type pg from 'pg';
import { unitOfWork, type Tx, type UnitOfWorkContext } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
import { SORTS_OFF } from './enterServiceRole.ts';

/** A page of the global order: events and the checkpoint after them. */
export interface Page<E> {
  readonly events: readonly E[];
  readonly checkpoint: GlobalPosition;
}

/** Pages of the global order, read one page ahead of the caller. */
export interface PageReader<E> {
  /** The page after the previous one (the first: after `from`). */
  next(): Promise<Page<E>>;
}

/**
 * Reads the global order after `from` in pages of `limit` with `read` (e.g. the store's `readAll`, for
 * a rebuild through `apply`: below the oldest running transaction), each page in its own read-only transaction
 * as `context`, and starts reading the next page as soon as a full page is handed out, so that reading
 * (one pooled connection, the server's work and the driver's parsing) overlaps what the caller does
 * with the page. A page that comes back short starts no read ahead; the next call reads then.
 *
 * Read-only transactions take no transaction id, so these reads never hold back anyone's bound.
 */
export function readAhead<E>(
  pool: pg.Pool,
  context: UnitOfWorkContext,
  read: (tx: Tx, after: GlobalPosition, limit: number) => Promise<Page<E>>,
  from: GlobalPosition,
  limit: number,
): PageReader<E> {
  const start = (after: GlobalPosition) => {
    // Sorts off: see enterServiceRole.
    const page = unitOfWork(pool, { ...context, readOnly: true }, (tx) => read(tx, after, limit), { setupStatements: [{ text: `select ${SORTS_OFF}` }] });
    page.catch(() => undefined); // handled by next(); no unhandled rejection while it waits there
    return page;
  };
  let ahead: Promise<Page<E>> | null = start(from);
  let last = from;
  return {
    async next() {
      const page = await (ahead ?? start(last));
      last = page.checkpoint;
      ahead = page.events.length < limit ? null : start(last);
      return page;
    },
  };
}
