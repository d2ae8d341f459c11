import type pg from 'pg';
import { listenToProjections, type ProjectionListener } from '../../../platform/projections/index.ts';

/** The process's projection listeners, one per database (see {@link createProjectionListeners}). */
export interface ProjectionListeners {
  /** The listener of `pool`'s database, opened on first use; rejects when it cannot be opened. */
  of(pool: pg.Pool): Promise<ProjectionListener>;
  /** The listener for a wait on `pool`'s database, or none (the wait then polls) while opening one failed there in the last second. */
  forWait(pool: pg.Pool): Promise<ProjectionListener | undefined>;
  /** Closes every listener opened. */
  close(): Promise<void>;
}

/**
 * One LISTEN connection per database that a projection's notifications come from: a projector
 * notifies in its own database, so a moved restaurant's board is heard on that database's pool. Each
 * is opened on first use; a lost one is closed and the next caller opens another; `onLost` hears why.
 */
export function createProjectionListeners(onLost: (error: unknown) => void): ProjectionListeners {
  const open = new Map<pg.Pool, Promise<ProjectionListener>>();
  const failedAt = new Map<pg.Pool, number>();
  const of = (pool: pg.Pool): Promise<ProjectionListener> => {
    const current = open.get(pool);
    if (current !== undefined) return current;
    const opening: Promise<ProjectionListener> = listenToProjections(pool, (error) => {
      onLost(error);
      if (open.get(pool) === opening) open.delete(pool);
      void opening.then((lost) => lost.close()).catch(() => undefined);
    }).catch((error: unknown) => {
      if (open.get(pool) === opening) open.delete(pool);
      failedAt.set(pool, Date.now());
      throw error;
    });
    open.set(pool, opening);
    return opening;
  };
  return {
    of,
    forWait: async (pool) => (Date.now() - (failedAt.get(pool) ?? -Infinity) < 1000 ? undefined : of(pool).catch(() => undefined)),
    async close() {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map(async (listener) => (await listener.catch(() => null))?.close()));
    },
  };
}
