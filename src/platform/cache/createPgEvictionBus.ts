import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { EvictionBus, EvictionSubscriber } from './evictionBus.ts';
import { reportAtMostEvery } from './reportAtMostEvery.ts';

/** The channel every process's eviction bus LISTENs on and NOTIFYs. */
export const EVICTION_CHANNEL = 'brigade_cache_evictions';

/** What an eviction bus reports to its error hook. */
export interface EvictionBusErrorContext {
  /**
   * `listen`: the LISTEN connection was lost or could not be opened (the caches read from their loaders
   * until it is back); `notify`: an eviction could not be sent to the other processes (sent again
   * later); `close`: evictions still unsent when the bus closed, with their keys.
   */
  readonly op: 'listen' | 'notify' | 'close';
  readonly keys?: readonly string[];
}

/** Options of {@link createPgEvictionBus}. */
export interface PgEvictionBusOptions {
  /**
   * A pool of a database every instance shares (Brigade: the platform service's). While a cache is
   * subscribed the bus keeps one of its connections for the LISTEN; each eviction borrows one for a NOTIFY.
   */
  readonly pool: pg.Pool;
  /** Told about trouble (a lost LISTEN, an unsent eviction); at most one call per op every 5 s. */
  readonly onError?: (error: unknown, context: EvictionBusErrorContext) => void;
}

/** An {@link EvictionBus} across processes; `close()` sends what is still queued (2 s at most) and lets go of its connection. */
export interface PgEvictionBus extends EvictionBus {
  close(): Promise<void>;
}

/** NOTIFY payloads must stay under 8000 bytes: evictions of many keys go in several. */
const PAYLOAD_BYTES = 7900;
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;
/**
 * The LISTEN connection is checked this often (LISTEN again, a no-op, within the same time): a
 * connection that died without a word (a half-open TCP connection) otherwise leaves the caches
 * trusting what they hold while evictions go unheard.
 */
const CHECK_EVERY_MS = 5000;
const CLOSE_FLUSH_MS = 2000;

/**
 * An eviction bus through PostgreSQL, for memory-mode caches (no REDIS_URL) in several processes on
 * one database (`brigade start` beside `brigade serve --service menu`, or several `serve`): an eviction
 * reaches the caches of this bus synchronously and every other process's by `NOTIFY` on
 * {@link EVICTION_CHANNEL}, sent after the change committed (the cache's `evict` runs after commit),
 * and heard on one LISTEN connection per process, opened when the first cache subscribes.
 *
 * A LISTEN that drops (the connection broke, or did not answer its periodic check) makes
 * {@link EvictionBus.listening} false and tells every cache to drop what it holds (`lost`): until the
 * LISTEN is back (retried with a back-off of 50 ms doubling to 2 s) reads go to the loader and store
 * nothing, so no eviction missed meanwhile can leave a process serving the old document. A NOTIFY that
 * fails is queued and sent again with the same back-off. Any role may NOTIFY the channel: a forged
 * message can only evict, which costs a load.
 *
 * @example
 * const evictions = createPgEvictionBus({ pool: databases.poolFor('platform'), onError: log });
 * const menus = createCache({ namespace: 'menu', evictions });
 * // …
 * await menus.close();
 * await evictions.close();
 */
export function createPgEvictionBus(options: PgEvictionBusOptions): PgEvictionBus {
  const { pool } = options;
  const busId = randomUUID();
  const subscribers = new Map<string, Set<EvictionSubscriber>>();
  let closed = false;
  const report = reportAtMostEvery(options.onError);
  const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

  // Sending: one NOTIFY per payload, on a borrowed connection, each its own transaction.
  const payloads = (namespace: string, keys: readonly string[]): string[] => {
    const out: string[] = [];
    let batch: string[] = [];
    const encode = (k: readonly string[]) => JSON.stringify({ b: busId, n: namespace, k });
    for (const key of keys) {
      if (batch.length > 0 && Buffer.byteLength(encode([...batch, key])) > PAYLOAD_BYTES) {
        out.push(encode(batch));
        batch = [];
      }
      batch.push(key);
    }
    if (batch.length > 0) out.push(encode(batch));
    return out;
  };
  const send = async (namespace: string, keys: readonly string[]) => {
    for (const payload of payloads(namespace, keys)) await pool.query('select pg_notify($1, $2)', [EVICTION_CHANNEL, payload]);
  };
  // Evictions not sent yet, by namespace, each key with the number of its latest queueing.
  const pending = new Map<string, Map<string, number>>();
  let pendingSeq = 0;
  let flushing: Promise<void> | null = null;
  let sendTimer: NodeJS.Timeout | null = null;
  let sendRetries = 0;
  const flush = (): Promise<void> => {
    if (flushing === null) {
      if (sendTimer !== null) clearTimeout(sendTimer);
      sendTimer = null;
      flushing = (async () => {
        for (const [namespace, keys] of [...pending]) {
          const batch = [...keys];
          try {
            await send(
              namespace,
              batch.map(([key]) => key),
            );
          } catch (error) {
            if (!closed) report(error, { op: 'notify', keys: batch.map(([key]) => key) });
            sendLater();
            return;
          }
          // Only what was sent: a key queued again meanwhile keeps its newer entry.
          for (const [key, seq] of batch) if (keys.get(key) === seq) keys.delete(key);
          if (keys.size === 0) pending.delete(namespace);
        }
        sendRetries = 0;
      })().finally(() => (flushing = null));
    }
    return flushing;
  };
  const sendLater = () => {
    if (sendTimer !== null || closed) return;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** sendRetries, RETRY_MAX_MS);
    sendRetries = Math.min(sendRetries + 1, 16);
    sendTimer = setTimeout(() => {
      sendTimer = null;
      void flush();
    }, delay).unref();
  };

  // Listening: one connection, kept while the bus runs, checked every CHECK_EVERY_MS.
  let current: { readonly drop: (error: Error) => void } | null = null;
  let listening = false;
  let connecting = false;
  let listenTimer: NodeJS.Timeout | null = null;
  let listenRetries = 0;
  const waiters: Array<() => void> = [];
  const onNotification = (message: pg.Notification) => {
    if (message.channel !== EVICTION_CHANNEL || message.payload === undefined) return;
    let parsed: { b?: unknown; n?: unknown; k?: unknown };
    try {
      parsed = JSON.parse(message.payload) as typeof parsed;
    } catch {
      return;
    }
    // Its own evictions reached this bus's caches when they were published.
    if (parsed.b === busId || typeof parsed.n !== 'string' || !Array.isArray(parsed.k)) return;
    const keys = parsed.k.filter((k): k is string => typeof k === 'string');
    for (const subscriber of subscribers.get(parsed.n) ?? []) subscriber.evicted(keys, null);
  };
  const listenLater = () => {
    if (listenTimer !== null || closed) return;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** listenRetries, RETRY_MAX_MS);
    listenRetries = Math.min(listenRetries + 1, 16);
    listenTimer = setTimeout(() => {
      listenTimer = null;
      start();
    }, delay).unref();
  };
  const start = () => {
    if (closed || connecting || current !== null || listenTimer !== null || subscribers.size === 0) return;
    connecting = true;
    void connect().finally(() => (connecting = false));
  };
  const connect = async () => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      report(error, { op: 'listen' });
      listenLater();
      return;
    }
    if (closed) {
      client.release();
      return;
    }
    let gone = false;
    let checkTimer: NodeJS.Timeout | null = null;
    const drop = (error: Error) => {
      if (gone) return;
      gone = true;
      if (checkTimer !== null) clearTimeout(checkTimer);
      client.off('notification', onNotification);
      client.off('error', drop);
      client.off('end', ended);
      client.release(error); // destroyed, never pooled: it may still LISTEN
      current = null;
      const was = listening;
      listening = false;
      // Evictions may go unheard from now on: nothing cached so far may be trusted.
      if (was) for (const set of subscribers.values()) for (const subscriber of set) subscriber.lost();
      if (closed) return;
      report(new Error(`the cache's eviction LISTEN was lost (${error.message}); reads go to the loader until it is back`, { cause: error }), { op: 'listen' });
      listenLater();
    };
    const ended = () => drop(new Error('the connection ended'));
    client.on('notification', onNotification);
    client.on('error', drop);
    client.on('end', ended);
    current = { drop };
    const listen = () => client.query(`listen ${EVICTION_CHANNEL}`);
    try {
      await listen();
    } catch (error) {
      drop(asError(error));
      return;
    }
    if (gone) return;
    listening = true;
    listenRetries = 0;
    for (const resolve of waiters.splice(0)) resolve();
    const check = () => {
      checkTimer = setTimeout(() => {
        let deadline: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(new Error(`the LISTEN connection did not answer within ${CHECK_EVERY_MS} ms`)), CHECK_EVERY_MS).unref();
        });
        Promise.race([listen(), late]).then(
          () => {
            clearTimeout(deadline);
            if (!gone) check();
          },
          (error: unknown) => {
            clearTimeout(deadline);
            drop(asError(error));
          },
        );
      }, CHECK_EVERY_MS).unref();
    };
    check();
  };

  return {
    publish(namespace, keys, from) {
      for (const subscriber of subscribers.get(namespace) ?? []) subscriber.evicted(keys, from);
      if (closed) return Promise.resolve();
      return send(namespace, keys).catch((error: unknown) => {
        report(error, { op: 'notify', keys });
        const queued = pending.get(namespace) ?? new Map<string, number>();
        for (const key of keys) queued.set(key, ++pendingSeq);
        pending.set(namespace, queued);
        sendLater();
      });
    },
    subscribe(namespace, subscriber) {
      const set = subscribers.get(namespace) ?? new Set();
      set.add(subscriber);
      subscribers.set(namespace, set);
      start();
      return () => {
        set.delete(subscriber);
        if (set.size === 0 && subscribers.get(namespace) === set) subscribers.delete(namespace);
      };
    },
    listening: () => listening,
    ready: () =>
      listening || closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiters.push(resolve);
            start();
          }),
    async close() {
      if (closed) return;
      closed = true;
      if (listenTimer !== null) clearTimeout(listenTimer);
      if (pending.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([flush(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS).unref()))]);
        clearTimeout(timer);
      }
      if (sendTimer !== null) clearTimeout(sendTimer);
      const unsent = [...pending.values()].flatMap((keys) => [...keys.keys()]);
      if (unsent.length > 0) {
        report(
          new Error(`${unsent.length} cache eviction(s) never reached the other processes before close: they may serve the old value until its TTL runs out`),
          { op: 'close', keys: unsent },
        );
      }
      current?.drop(new Error('closed'));
      for (const resolve of waiters.splice(0)) resolve();
    },
  };
}
