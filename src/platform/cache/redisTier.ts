import { randomUUID } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';
import type { CacheMetrics } from './cacheMetrics.ts';
import { READ_OR_TOKEN, RELEASE_TOKEN, runScript, STORE_IF_CURRENT } from './redisScripts.ts';

/** What the Redis tier reports to the cache's error hook. */
export interface CacheErrorContext {
  /**
   * The failing operation: `get`, `load` (the miss script), `store`, `evict` (an eviction or its replay),
   * `broadcast` (the PUBLISH that follows an eviction that landed: the eviction stands, only other
   * instances' loads under way are not dropped at once), `subscribe`, `connection`, `close` (evictions
   * still queued when the cache closed, never replayed), or
   * `config` (a warning, once, when Redis is first ready: it has a `maxmemory` with the `noeviction` policy,
   * so when full it refuses the cache's writes, and an eviction can only delete, see `evict`).
   */
  readonly op: 'get' | 'load' | 'store' | 'evict' | 'broadcast' | 'subscribe' | 'connection' | 'close' | 'config';
  /** The keys involved, when there are any. */
  readonly keys?: readonly string[];
}

/** The shared-Redis tier: values, generation tokens and the eviction broadcast of one namespace. */
export interface RedisTier {
  /**
   * Ready, answering (the breaker is closed), and no eviction waiting to be replayed: only then may a
   * read trust what Redis holds, or ask it anything.
   */
  usable(): boolean;
  /** Resolves once Redis is ready and the broadcast subscribed (or the tier is closed). */
  ready(): Promise<void>;
  /** The hot path: one GET of the encoded entry. Throws on a Redis error (the caller falls back). */
  get(key: string): Promise<Buffer | null>;
  /** The miss path: the value if it appeared meanwhile, else the key's generation token (and whether this call created it). */
  readOrToken(key: string): Promise<{ readonly value: Buffer } | { readonly token: string; readonly created: boolean }>;
  /** Deletes the key's generation if it is still `token`: a failed load leaves no key behind. */
  releaseToken(key: string, token: string): Promise<void>;
  /** Stores the payload for `ttlMs` (Redis's own clock, `PX`) only if the generation is still `token`; false when an eviction intervened. */
  storeIfCurrent(key: string, token: string, payload: Buffer, ttlMs: number): Promise<boolean>;
  /**
   * Replaces the keys' generations and deletes their values in one transaction, then broadcasts (a
   * refused broadcast is reported, op `broadcast`, and does not fail the eviction); never throws (queues
   * instead). When Redis refuses that transaction (out of memory), deletes values and generations with a
   * plain DEL and broadcasts at once, and queues the eviction all the same. When the client is
   * reconnecting, waits up to `evictWaitMs` for it to be back and the eviction to land before queueing.
   */
  evict(keys: readonly string[]): Promise<void>;
  /** Replays what is still queued if Redis takes it (bounded wait), reports the rest, and lets go of Redis. */
  close(): Promise<void>;
}

interface RedisTierOptions {
  readonly redis: Redis;
  /** Whether the tier created the client (and so quits it on close). */
  readonly owned: boolean;
  readonly namespace: string;
  /** Put before the namespace in every key and channel (a deployment's own, `CACHE_KEY_PREFIX`); may be empty. */
  readonly keyPrefix?: string;
  readonly ttlMs: number;
  readonly instanceId: string;
  readonly metrics: CacheMetrics;
  readonly report: (error: unknown, context: CacheErrorContext) => void;
  /** Whether to publish evictions and subscribe to other instances'. */
  readonly broadcast: boolean;
  /** Called with the keys another instance evicted (from the broadcast). */
  readonly onRemoteEvict: (keys: readonly string[]) => void;
  /**
   * How long `evict` waits, when it finds the client reconnecting, for it to be ready and the eviction to
   * land before it queues the eviction and returns; 0 queues at once.
   */
  readonly evictWaitMs: number;
}

/** Keys per replayed eviction transaction, so a long queue does not become one command past the timeout. */
const REPLAY_BATCH = 500;
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;
/** How long close() waits for queued evictions to reach Redis. */
const CLOSE_REPLAY_MS = 2000;
/**
 * The breaker: this many commands in a row that timed out (no answer within the client's command
 * timeout, on a connection that stays open: a Redis stopped, swapping or stuck in a slow script) or
 * answered slowly (see {@link SLOW_SHARE}), then a PING that does too, and Redis is taken for hung. A
 * hung Redis otherwise costs every read the whole command timeout, for ever: ioredis stays `ready` as
 * long as TCP does; a slow one costs every read nearly as much, where the loader takes a few ms.
 */
const BREAKER_STRIKES = 3;
/**
 * A command answered after this share of the client's command timeout (100 ms of the cache's 250) is
 * slow. The confirming PING keeps one pause of this process (a long garbage collection, a blocked
 * event loop, which delays every answer in flight at once) from opening the breaker.
 */
const SLOW_SHARE = 0.4;
/** The slow bound of a client with no command timeout. */
const SLOW_DEFAULT_MS = 100;
/** While the breaker is open, a PING is sent after this back-off, doubling up to the maximum. */
const BREAKER_FIRST_MS = 250;
const BREAKER_MAX_MS = 5000;
const MEMORY_ADVICE = 'give it more memory, or a maxmemory-policy that evicts keys (e.g. volatile-lru: every cache key has a TTL)';
/**
 * ioredis states from which the client becomes ready by itself (a drop of the connection, a Redis
 * restart or failover): an eviction may wait for it. `end` (no more reconnection) and `wait` (never
 * connected, lazy) may not.
 */
const RECONNECTING: ReadonlySet<string> = new Set(['connecting', 'connect', 'reconnecting']);

/** An `evict` call waiting for its keys' queued eviction to land: each key with its queue number. */
interface Waiter {
  readonly keys: Map<string, number>;
  readonly done: (landed: boolean) => void;
}

/** The message of a command's error, or the first queued command's in an aborted transaction. */
const reasonOf = (error: unknown): string => {
  const reasons = (error as { previousErrors?: unknown[] } | null)?.previousErrors;
  if (reasons?.[0] instanceof Error) return reasons[0].message;
  return error instanceof Error ? error.message : String(error);
};

/**
 * Builds the Redis tier. Keys are `<keyPrefix><namespace>:{<key>}:v` (value) and
 * `<keyPrefix><namespace>:{<key>}:g` (generation); the braces are a hash tag so both land on one Cluster slot, as the scripts need.
 * Evictions that cannot reach Redis are queued and replayed in the background, at once when the
 * connection is ready again and otherwise retried with a capped backoff, reads or not (other instances
 * serve the old value until the replay lands); until it does, this instance does not read from Redis
 * (it could hold the value the eviction removes). An eviction that finds the client reconnecting waits
 * for the replay, `evictWaitMs` at most, before it returns.
 *
 * A Redis that stays connected but stops answering, or answers slowly, is treated as down after
 * {@link BREAKER_STRIKES} commands in a row time out or answer slowly and a PING confirms it (the breaker
 * opens): no command is sent on the read path, evictions are queued, and a PING answered in time after a
 * back-off decides when to trust it again (then the queue is replayed first).
 */
export function createRedisTier(options: RedisTierOptions): RedisTier {
  const { redis, namespace, metrics, report } = options;
  // Longer than any sane load; if it lapses mid-load the fenced write is refused, which is safe.
  const generationTtl = String(Math.max(2 * options.ttlMs, 600_000));
  // The keys' and channel's stem: the namespace, after the deployment's prefix.
  const stem = `${options.keyPrefix ?? ''}${namespace}`;
  const channel = `${stem}:evictions`;
  const valueKey = (key: string) => `${stem}:{${key}}:v`;
  const generationKey = (key: string) => `${stem}:{${key}}:g`;
  const pending = new Map<string, number>();
  let pendingSeq = 0;
  let replaying: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let retries = 0;
  let connected = redis.status === 'ready';
  let closed = false;
  // The breaker: commands in a row that timed out or answered slowly, whether a PING is confirming them,
  // whether it is open, and its PING's timer and back-off.
  const slowMs = redis.options.commandTimeout ? redis.options.commandTimeout * SLOW_SHARE : SLOW_DEFAULT_MS;
  let strikes = 0;
  let confirming = false;
  let open = false;
  let probeTimer: NodeJS.Timeout | null = null;
  let probes = 0;
  metrics.redisUp.set(connected ? 1 : 0);
  // Evictions waiting to land while the client reconnects, and whether one such wait in the current
  // outage ran out (then the outage is a long one, and later evictions queue at once until 'ready').
  const waiters = new Set<Waiter>();
  let outageOutlastedWait = false;
  let subscribed = false;
  let resolveReady!: () => void;
  const readyPromise = new Promise<void>((resolve) => (resolveReady = resolve));
  const checkReady = () => {
    if (closed || (subscribed && redis.status === 'ready')) resolveReady();
  };

  /**
   * Runs one command, counting it for the breaker: an answer in time (even an error reply) resets the
   * count, one that timed out or came slowly adds to it.
   */
  const guard = async <T>(command: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const result = await command();
      answered(performance.now() - started);
      return result;
    } catch (error) {
      if (error instanceof Error && error.message === 'Command timed out') strike();
      else if (error instanceof ReplyError) answered(performance.now() - started); // Redis answered, if with an error (out of memory, NOSCRIPT)
      throw error;
    }
  };
  const answered = (ms: number) => {
    if (ms >= slowMs) strike();
    else strikes = 0;
  };
  const strike = () => {
    strikes += 1;
    if (strikes >= BREAKER_STRIKES && !open && !closed && !confirming) confirm();
  };
  /** A PING, off the read path, that answers in time or not: whether Redis itself is slow, not this process. */
  const pingInTime = async (): Promise<boolean> => {
    const started = performance.now();
    try {
      await redis.ping();
      return performance.now() - started < slowMs;
    } catch {
      return false;
    }
  };
  const confirm = () => {
    confirming = true;
    void pingInTime().then((inTime) => {
      confirming = false;
      if (inTime) strikes = 0;
      else if (!open && !closed && redis.status === 'ready') trip();
    });
  };
  const trip = () => {
    open = true;
    metrics.redisUp.set(0);
    report(
      new Error(
        `Redis (cache ${JSON.stringify(namespace)}) answered none of the last ${BREAKER_STRIKES} commands, nor a PING, within ${Math.round(slowMs)} ms although connected: ` +
          'reads go to the loader and evictions are queued until it answers a PING in time. Check that Redis is not stopped, swapping, short of CPU or running a slow command',
      ),
      { op: 'connection' },
    );
    probeLater();
  };
  const probeLater = () => {
    if (probeTimer !== null || closed) return;
    const delay = Math.min(BREAKER_FIRST_MS * 2 ** probes, BREAKER_MAX_MS);
    probes = Math.min(probes + 1, 16);
    probeTimer = setTimeout(() => {
      probeTimer = null;
      // Not connected: the next 'ready' (a reconnection answers a command first) closes the breaker.
      if (closed || !open || redis.status !== 'ready') return;
      void pingInTime().then((inTime) => (inTime ? shut() : probeLater()));
    }, delay).unref();
  };
  /** Closes the breaker: Redis answers again. Queued evictions are replayed before any read uses it. */
  const shut = () => {
    if (probeTimer !== null) clearTimeout(probeTimer);
    probeTimer = null;
    probes = 0;
    strikes = 0;
    if (!open || closed) return;
    open = false;
    metrics.redisUp.set(redis.status === 'ready' ? 1 : 0);
    void replay();
  };

  /**
   * Tells the other instances that `keys` were evicted, once the eviction landed: outside its
   * transaction, so that a Redis that refuses PUBLISH (an ACL, pub/sub disabled on a managed Redis) does
   * not fail the eviction too. Correctness does not depend on the broadcast (a load under way elsewhere is
   * refused at its fenced write instead of dropped at once), so a failure is only reported (op
   * `broadcast`, naming the command). Returns whether the broadcast was sent.
   */
  const publish = async (keys: readonly string[], message: string): Promise<boolean> => {
    if (!options.broadcast) return false;
    try {
      await guard(() => redis.publish(channel, message));
      return true;
    } catch (error) {
      const refused = error instanceof ReplyError;
      report(
        new Error(
          `Redis ${refused ? 'refused' : 'did not take'} the eviction broadcast (PUBLISH ${channel}) of ${keys.length} key(s) (${reasonOf(error)}); ` +
            "the eviction itself landed, only other instances' loads under way are not dropped at once (their fenced writes are refused instead). " +
            (refused
              ? `Allow PUBLISH and SUBSCRIBE on ${channel} for the cache's Redis user, or create the cache with broadcast: false`
              : 'Nothing to do unless it persists; then check that Redis is reachable and answering'),
          { cause: error },
        ),
        { op: 'broadcast', keys },
      );
      return false;
    }
  };
  /**
   * What an eviction that Redis refused (an error reply) still does at once, with plain commands: out of
   * memory under the `noeviction` policy (Redis's default) Redis refuses the generation's SET, and in a
   * MULTI every command queued (EXECABORT), but it takes a plain DEL and PUBLISH. So each key's value
   * *and* generation are deleted, and the eviction broadcast. Deleting the generation keeps the fence: a
   * load holding the old token cannot store (an absent generation is not its token) and a generation
   * created later is random, as after RELEASE_TOKEN. Deleting only the value would let such a load put
   * the old document back as soon as memory frees (the DEL itself may free it), before the replay. Only
   * the DELs' replies decide what the report says; a refused broadcast is reported on its own. The
   * caller queues the eviction all the same; its replay replaces the generation. Returns the error to
   * throw: the refusal, saying what was done instead.
   */
  const evictPlainly = async (keys: readonly string[], message: string, refusal: Error): Promise<Error> => {
    const reason = reasonOf(refusal);
    try {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.del(valueKey(key), generationKey(key));
      const results = await guard(() => pipeline.exec());
      const failed = results?.find(([error]) => error !== null);
      if (failed) throw failed[0];
    } catch (error) {
      return new Error(
        `Redis refused the eviction of ${keys.length} key(s) (${reason}) and the plain DEL too (${reasonOf(error)}): other instances may serve the old value ` +
          'until the queued eviction is replayed' +
          (reason.startsWith('OOM')
            ? `. Redis is out of memory: ${MEMORY_ADVICE}`
            : `. The reasons in parentheses name what Redis refused: let the cache's Redis user run SET and DEL on ${stem}:* (an ACL), or point it at a primary (a read-only replica)`),
        { cause: error },
      );
    }
    const broadcast = await publish(keys, message);
    return new Error(
      `Redis refused the eviction of ${keys.length} key(s) (${reason}); their values and generations were deleted with a plain DEL` +
        `${broadcast ? ' and the eviction broadcast' : ''}, and it stays queued until Redis takes it` +
        (reason.startsWith('OOM') ? `. Redis is out of memory: ${MEMORY_ADVICE}` : ''),
      { cause: refusal },
    );
  };
  /** One eviction: a MULTI that replaces each key's generation and deletes its value; then the broadcast. */
  const execEvict = async (keys: readonly string[]) => {
    const message = JSON.stringify({ from: options.instanceId, keys });
    try {
      const tx = redis.multi();
      for (const key of keys) tx.set(generationKey(key), randomUUID(), 'PX', generationTtl).del(valueKey(key));
      const results = await guard(() => tx.exec());
      if (results === null) throw new Error('Redis discarded the eviction transaction');
      const failed = results.find(([error]) => error !== null);
      if (failed) throw failed[0];
    } catch (error) {
      if (!(error instanceof ReplyError)) throw error;
      throw await evictPlainly(keys, message, error as Error);
    }
    await publish(keys, message);
  };
  /** Sends the queued evictions, a bounded batch per transaction, while Redis takes them; retries the rest later. */
  const drain = async () => {
    while (pending.size > 0 && redis.status === 'ready' && !open) {
      const batch: Array<[string, number]> = [];
      for (const entry of pending) if (batch.push(entry) === REPLAY_BATCH) break;
      try {
        await execEvict(batch.map(([key]) => key));
      } catch (error) {
        if (!closed) report(error, { op: 'evict', keys: batch.map(([key]) => key) });
        break;
      }
      // Only what this batch covered: a key queued again meanwhile keeps its newer entry.
      for (const [key, seq] of batch) if (pending.get(key) === seq) pending.delete(key);
      metrics.evictReplayed.inc(batch.length);
      retries = 0;
      landed(batch);
    }
    metrics.evictQueued.set(pending.size);
    if (pending.size > 0 && !closed) retryLater();
  };
  /** Tells the waiting `evict` calls which keys' evictions landed (this batch, or a later one of the key). */
  const landed = (batch: ReadonlyArray<readonly [string, number]>) => {
    for (const waiter of waiters) {
      for (const [key, seq] of batch) if (seq >= (waiter.keys.get(key) ?? Infinity)) waiter.keys.delete(key);
      if (waiter.keys.size === 0) waiter.done(true);
    }
  };
  /**
   * Resolves true once every key of `keys` (with its queue number) has landed, false after `evictWaitMs`
   * (or at close). A wait that runs out while the client is still not ready marks the outage as long.
   */
  const awaitLanding = (keys: Map<string, number>): Promise<boolean> =>
    new Promise((resolve) => {
      const waiter: Waiter = {
        keys,
        done: (landedAll) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve(landedAll);
        },
      };
      // Not unref'd: a write is waiting on it, and it is short.
      const timer = setTimeout(() => {
        if (redis.status !== 'ready') outageOutlastedWait = true;
        waiter.done(false);
      }, options.evictWaitMs);
      waiters.add(waiter);
    });
  /** One replay at a time; its promise. */
  const replay = (): Promise<void> => {
    if (replaying === null) {
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = null;
      replaying = drain().finally(() => (replaying = null));
    }
    return replaying;
  };
  // Not only on reconnection: Redis may refuse an eviction while staying connected (a timeout, out of
  // memory), and no 'ready' follows then. Reads do not trigger it, so a busy instance does not retry
  // faster than the backoff.
  const retryLater = () => {
    if (retryTimer !== null) return;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** retries, RETRY_MAX_MS);
    retries = Math.min(retries + 1, 16);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void replay();
    }, delay).unref();
  };

  // Once, when Redis is first ready: Redis's default policy, noeviction, makes a full Redis refuse every
  // write, the evictions' generation tokens included. Evictions still delete (evictPlainly), but reads
  // go to the loader and nothing is cached until memory frees: worth saying before it happens.
  let memoryChecked = false;
  const checkMemoryPolicy = () => {
    if (memoryChecked) return;
    memoryChecked = true;
    Promise.resolve()
      .then(() => redis.info('memory'))
      .then(
        (info) => {
          const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
          const maxmemory = Number(field('maxmemory'));
          if (closed || !(maxmemory > 0) || field('maxmemory_policy') !== 'noeviction') return;
          report(
            new Error(
              `Redis (cache ${JSON.stringify(namespace)}) has maxmemory ${maxmemory} bytes with maxmemory-policy noeviction: once full it refuses ` +
                `the cache's writes, so reads go to the loader and evictions can only delete values until memory frees; ${MEMORY_ADVICE}`,
            ),
            { op: 'config' },
          );
        },
        () => undefined, // INFO refused (an ACL, a managed Redis) or unanswered: nothing to say
      );
  };

  const onReady = () => {
    checkMemoryPolicy();
    connected = true;
    outageOutlastedWait = false;
    // A new connection is ready only once Redis answered its first command: not hung (any more).
    open = false;
    shut();
    metrics.redisUp.set(1);
    checkReady();
    retries = 0;
    void replay();
  };
  const onClose = () => {
    if (connected) report(new Error(`Redis connection lost (${namespace}); reads go to the loader until it is back`), { op: 'connection' });
    connected = false;
    metrics.redisUp.set(0);
  };
  const onError = (error: unknown) => report(error, { op: 'connection' });
  redis.on('ready', onReady);
  redis.on('close', onClose);
  redis.on('error', onError);

  // The broadcast needs its own connection (a subscribed connection only takes pub/sub commands).
  // It may wait for Redis: it is not on any read path.
  // No command timeout on it: SUBSCRIBE on a loaded Redis can take longer than the read path's 250 ms,
  // and a timed-out SUBSCRIBE left ready() pending for ever (seen in a full CI run).
  const subscriber = options.broadcast
    ? redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false, commandTimeout: undefined })
    : null;
  if (connected) checkMemoryPolicy(); // a shared client that is ready already emits no "ready" again
  if (subscriber === null) {
    subscribed = true;
    checkReady(); // a shared client that is ready already emits no "ready" again
  }
  subscriber?.on('error', (error: unknown) => report(error, { op: 'subscribe' }));
  subscriber?.on('message', (_channel: string, message: string) => {
    let parsed: { from?: unknown; keys?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.from === options.instanceId || !Array.isArray(parsed.keys)) return;
    const keys = parsed.keys.filter((k): k is string => typeof k === 'string');
    metrics.evictRemote.inc(keys.length);
    options.onRemoteEvict(keys);
  });
  const subscribe = (attempt: number): void => {
    subscriber?.subscribe(channel).then(
      () => {
        subscribed = true;
        checkReady();
      },
      (error: unknown) => {
        if (closed) return;
        report(error, { op: 'subscribe' });
        // Try again: until the broadcast is subscribed the cache is not ready.
        setTimeout(() => subscribe(attempt + 1), Math.min(50 * 2 ** attempt, 1000)).unref();
      },
    );
  };
  subscribe(0);

  return {
    ready: () => readyPromise,
    usable: () => redis.status === 'ready' && !open && pending.size === 0,
    get: (key) => guard(() => redis.getBuffer(valueKey(key))),
    async readOrToken(key) {
      const reply = (await guard(() => runScript(redis, READ_OR_TOKEN, [valueKey(key), generationKey(key)], [randomUUID(), generationTtl]))) as [number, Buffer, number?];
      return reply[0] === 1 ? { value: reply[1] } : { token: reply[1].toString('latin1'), created: reply[2] === 1 };
    },
    async releaseToken(key, token) {
      await guard(() => runScript(redis, RELEASE_TOKEN, [generationKey(key)], [token]));
    },
    async storeIfCurrent(key, token, payload, ttlMs) {
      const stored = await guard(() => runScript(redis, STORE_IF_CURRENT, [valueKey(key), generationKey(key)], [token, payload, String(ttlMs)]));
      return stored === 1;
    },
    async evict(keys) {
      let reported = false;
      if (redis.status === 'ready' && !open) {
        try {
          await execEvict(keys);
          return;
        } catch (error) {
          report(error, { op: 'evict', keys });
          reported = true;
        }
      }
      const queued = new Map<string, number>();
      for (const key of keys) {
        pending.set(key, ++pendingSeq);
        queued.set(key, pendingSeq);
      }
      metrics.evictQueued.set(pending.size);
      // Even while a replay runs: it may have found the queue empty already (its last MULTI answered in
      // the same read as this one's failure) and only not yet cleared `replaying`, and then no retry
      // would ever send this key. A timer already armed is kept; a drain that finds nothing is harmless.
      retryLater();
      // A client that is only reconnecting (every connection dropped: a Redis restart, a failover, a proxy)
      // is usually back within a moment, and the instances that reconnect first would serve the old value
      // from Redis until this one replays: the write waits for the replay ('ready', then this key's MULTI),
      // for evictWaitMs at most. Not once a wait in this outage ran out (a real outage: writes would each
      // pay the bound for nothing), nor while the breaker is open (a hung Redis).
      const wait = !closed && !open && !outageOutlastedWait && options.evictWaitMs > 0 && RECONNECTING.has(redis.status);
      if (wait && (await awaitLanding(queued))) return;
      if (reported) return;
      const state = open ? 'not answering' : redis.status;
      report(
        new Error(
          `Redis is ${state}; eviction of ${keys.length} key(s) queued until it is back` +
            (wait ? ` (it waited ${options.evictWaitMs} ms for Redis to reconnect); other instances may serve the old value until the replay lands` : '') +
            '. Check that Redis is up and reachable from this instance',
        ),
        { op: 'evict', keys },
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      checkReady();
      // Queued evictions are not dropped with the instance: one last replay if Redis takes them, bounded
      // so that a hung connection cannot hold the shutdown; what is left is reported with its keys.
      if (pending.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([replay(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_REPLAY_MS).unref()))]);
        clearTimeout(timer);
      }
      if (retryTimer !== null) clearTimeout(retryTimer);
      if (probeTimer !== null) clearTimeout(probeTimer);
      for (const waiter of waiters) waiter.done(false);
      if (pending.size > 0) {
        const keys = [...pending.keys()];
        report(
          new Error(
            `${keys.length} eviction(s) of cache ${JSON.stringify(namespace)} never reached Redis before close: other instances may serve ` +
              `the old value until its TTL (${options.ttlMs / 1000} s) runs out; to end it sooner, delete ${stem}:{<key>}:v in Redis for these keys`,
          ),
          { op: 'close', keys },
        );
      }
      redis.off('ready', onReady);
      redis.off('close', onClose);
      redis.off('error', onError);
      subscriber?.disconnect();
      if (options.owned) {
        redis.on('error', () => undefined); // a client being shut down may still emit; nobody is listening now
        if (redis.status === 'ready' && !open) await redis.quit().catch(() => undefined);
        redis.disconnect();
      }
    },
  };
}
