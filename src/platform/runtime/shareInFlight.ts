/**
 * `fn`, shared while it runs: a call made while an earlier call's promise is still pending gets that
 * same promise instead of starting `fn` again; a call after it settled starts a new one. For a read
 * that many callers may ask for at once (overlapping `/metrics` scrapes, readiness probes): however
 * many there are, one read is in flight, holding one connection, and none gets an answer older than
 * the read it found running.
 *
 * @example
 * const readDepth = shareInFlight(() => boundedRead(pool, 2000, (client) => client.query(DEPTH_SQL)));
 * await Promise.all([readDepth(), readDepth()]); // one query
 */
export function shareInFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    if (running !== null) return running;
    const started: Promise<T> = (async () => fn())().finally(() => {
      if (running === started) running = null;
    });
    running = started;
    return started;
  };
}
