import { setMaxListeners } from 'node:events';
import type pg from 'pg';
import { listenToProjections, type ProjectionListener } from '../../../platform/projections/index.ts';
import { answerWithin } from '../../../platform/runtime/answerWithin.ts';

/** A database's projection listener as {@link ProjectionListeners.of} hands it out. */
export interface HeldListener extends ProjectionListener {
  /**
   * Aborts when the listener lost its connection: its subscribers hear nothing more (the next call of
   * `of` opens another listener), so a stream subscribed to it ends and lets its client reconnect.
   */
  readonly lost: AbortSignal;
}

/** The process's projection listeners, one per database (see {@link createProjectionListeners}). */
export interface ProjectionListeners {
  /** The listener of `pool`'s database, opened on first use; rejects when it cannot be opened. */
  of(pool: pg.Pool): Promise<HeldListener>;
  /**
   * The listener for a wait on `pool`'s database, or none (the wait then polls): while opening one
   * failed there in the last second, or when it is not open by `until` (ms since the epoch) or
   * `signal` aborts first. Its open waits for a connection of `pool` like any other: with every
   * connection taken it would hold the wait up to the pool's acquire timeout, past the wait's own end
   * and past the client's leaving. An open not awaited goes on and serves the waits after it.
   *
   * @example
   * const listener = await listeners.forWait(pool, waitUntil, signal);
   * await waitForPosition(pool, board, after, { timeoutMs: waitUntil - Date.now(), signal, listener });
   */
  forWait(pool: pg.Pool, until: number, signal: AbortSignal): Promise<ProjectionListener | undefined>;
  /** Closes every listener opened. */
  close(): Promise<void>;
}

/**
 * One LISTEN connection per database that a projection's notifications come from: a projector
 * notifies in its own database, so a moved restaurant's board is heard on that database's pool. Each
 * is opened on first use; a lost one is closed, its `lost` signal aborts, and the next caller opens
 * another; `onLost` hears why.
 */
export function createProjectionListeners(onLost: (error: unknown) => void): ProjectionListeners {
  const open = new Map<pg.Pool, Promise<HeldListener>>();
  const failedAt = new Map<pg.Pool, number>();
  const of = (pool: pg.Pool): Promise<HeldListener> => {
    const current = open.get(pool);
    if (current !== undefined) return current;
    const lost = new AbortController();
    // Every open board stream of the database listens to it: as many as there are streams, not a leak.
    setMaxListeners(0, lost.signal);
    const opening: Promise<HeldListener> = listenToProjections(pool, (error) => {
      onLost(error);
      if (open.get(pool) === opening) open.delete(pool);
      lost.abort(error);
      void opening.then((listener) => listener.close()).catch(() => undefined);
    }).then(
      (listener) => ({ subscribe: listener.subscribe, close: listener.close, lost: lost.signal }),
      (error: unknown) => {
        if (open.get(pool) === opening) open.delete(pool);
        failedAt.set(pool, Date.now());
        throw error;
      },
    );
    open.set(pool, opening);
    return opening;
  };
  return {
    of,
    forWait: async (pool, until, signal) => (Date.now() - (failedAt.get(pool) ?? -Infinity) < 1000 ? undefined : answerWithin(of(pool), until - Date.now(), signal).catch(() => undefined)),
    async close() {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map(async (listener) => (await listener.catch(() => null))?.close()));
    },
  };
}
