/** Work of several loops that must not overlap: see {@link takeTurns}. */
export interface Turns {
  /** Runs `work` once every piece handed in before it has finished, and returns its result or throws its error. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Pieces handed in and not finished (the one running included). */
  readonly waiting: number;
}

/**
 * One turn at a time, in the order asked for: loops that share the returned {@link Turns} never run
 * their work at the same moment. The projectors of a process share one (decision 0075), so that
 * between them their batches hold at most one core, and the rest stays with the request path. A
 * piece that fails passes the turn on like one that succeeds.
 *
 * @example
 * const turns = takeTurns();
 * const runners = views.map((view) => runProjection(pool, view, { turns }));
 */
export function takeTurns(): Turns {
  let last: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  return {
    run<T>(work: () => Promise<T>): Promise<T> {
      waiting++;
      const turn = last.then(work).finally(() => {
        waiting--;
      });
      last = turn.catch(() => undefined);
      return turn;
    },
    get waiting() {
      return waiting;
    },
  };
}
