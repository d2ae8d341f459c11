import type pg from 'pg';
import client from 'prom-client';
import { NO_FLUSH_WAIT, probePeer, stopProbingPeer, unitOfWork } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import type { Turns } from '../runtime/takeTurns.ts';
import { wakeableSleep, type WakeableSleep } from '../runtime/wakeableSleep.ts';
import { applyBatch, ensureCheckpoint, PROJECTION_WAKE_CHANNEL, type BatchResult } from './applyBatch.ts';
import type { Projection } from './types.ts';
import { projectionKey } from './defineProjection.ts';
import { readCheckpoint } from './readCheckpoint.ts';
import { readOldestUnapplied } from './readOldestUnapplied.ts';

/** Options of {@link runProjection}. */
export interface RunProjectionOptions {
  /** Events per batch (one transaction each). Default 500. */
  readonly batchSize?: number;
  /** Wait between polls that found the projection at the head, in ms. Default 250; a wake-up cuts it short. */
  readonly idleMs?: number;
  /**
   * The shortest time between the starts of two batches when a wake-up cuts the idle wait short, in ms.
   * Default 20: readers that wait for the view (`waitForPosition`) get a batch within that time, and
   * however many of them there are, the projector runs at most one batch per step for them.
   */
  readonly wakeSpacingMs?: number;
  /**
   * The longest wait before a failed batch is tried again, in ms. Default 30000. The first retry comes
   * after `idleMs` (at least 50 ms), and each failure in a row doubles the wait up to this bound; a
   * batch that succeeds resets it. Wake-ups do not cut these waits short.
   */
  readonly maxRetryMs?: number;
  /** How often a waiting instance retries the leader lock, in ms. Default 1000. */
  readonly lockRetryMs?: number;
  /**
   * Batches of the runners that share these turns (`takeTurns()`) run one at a time, in the order they
   * become due (decision 0075): the order views' workers share one, so that the projectors of a
   * process hold at most one core between them. Default: this runner's batches wait for no other.
   */
  readonly turns?: Turns;
  /**
   * Registers `brigade_projection_*` metrics here: events applied, position, leader, batch seconds,
   * failed batches, and the lag in seconds: after a batch that applied events, the age of its last;
   * otherwise the age of the oldest event committed after the checkpoint, whether the batch failed or
   * an older running transaction hides it (decision 0011); 0 only at the head. An age is the database
   * server's clock less the event's `recorded_at` (the server's too): this host's clock plays no part.
   */
  readonly registry?: client.Registry;
  /**
   * The database this instance projects, for its metrics: an instance on a dedicated database
   * (decision 0008) passes its pool's label (`deps.placement`, e.g. `db-1a2b3c4d`), and its series get the
   * label `database="db-1a2b3c4d"` beside `projection`; leave it out for the shared database, whose series keep
   * exactly the labels they always had (`{projection="ordering.board"}`). Without it, the instances
   * of one projection on two databases that share a registry would write the same series.
   *
   * A label of its own rather than a suffix of the projection label (`ordering.board@db-1a2b3c4d`): a query
   * or alert on `projection="ordering.board"` still sees every database's lag, and `max by
   * (projection)` takes the worst. The shared series are unchanged either way, since a series
   * without the label is exported as before.
   */
  readonly database?: string;
  /** Called after each committed batch that read events (in-process live feeds). */
  readonly onBatch?: (result: BatchResult) => void;
  /** Called with leadership changes: `true` when this instance took the lock, `false` when it let go. */
  readonly onLeadership?: (leader: boolean) => void;
  /** Called each time this instance tries the leader lock and another instance holds it. */
  readonly onLockBusy?: () => void;
  /** Receives a failed batch (it is retried after a growing wait, see `maxRetryMs`), a failed checkpoint set-up (after `lockRetryMs` the lock is given up and taken again) or a lost lock connection. Default: ignored after retry. */
  readonly onError?: (error: unknown) => void;
}

/** A projection runner. */
export interface ProjectionRunner {
  /** Runs until `signal` aborts: waits for the leader lock, then applies batches; lets go of the lock on abort. */
  run(signal: AbortSignal): Promise<void>;
  /**
   * Ends the current idle wait (no sooner than `wakeSpacingMs` after the last batch started), e.g. after
   * an in-process commit that appended events. A reader in any process does the same through
   * `waitForPosition`, which notifies {@link PROJECTION_WAKE_CHANNEL}; the leader listens on its lock
   * connection.
   */
  wake(): void;
  /** Whether this instance holds the leader lock now. */
  readonly leader: boolean;
}

/**
 * Runs a projection with one active instance across processes: a session advisory lock
 * (`pg_try_advisory_lock(hashtext('brigade.projection'), hashtext('<schema>.<name>'))`) on a
 * connection held for as long as the instance leads. Other instances retry every `lockRetryMs`; when
 * the leader's process dies its session ends, the lock frees and a waiting instance takes over from
 * the stored checkpoint. The connection's peer is probed both ways while it holds the lock
 * (`probePeer`): when the leader's host vanishes (killed, asleep, cut off) the server ends its session
 * within about half a minute. The leader reads the global order in batches (`applyBatch`: events, view
 * rows and checkpoint in one transaction, committed without waiting for the WAL flush: decision 0071),
 * straight on while batches come back full, else after `idleMs` or a wake-up: `wake()`, or a NOTIFY on
 * {@link PROJECTION_WAKE_CHANNEL} with payload `<schema>.<name>` (what `waitForPosition` sends when the
 * view is behind the position a reader waits for).
 *
 * @example
 * const runner = runProjection(pool, boardProjection, { registry });
 * await runner.run(signal);
 */
export function runProjection(pool: pg.Pool, projection: Projection, options: RunProjectionOptions = {}): ProjectionRunner {
  const batchSize = options.batchSize ?? 500;
  const idleMs = options.idleMs ?? 250;
  const lockRetryMs = options.lockRetryMs ?? 1000;
  const wakeSpacingMs = options.wakeSpacingMs ?? 20;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ValidationError('batchSize must be a positive integer', { field: 'batchSize' });
  if (!(idleMs >= 0)) throw new ValidationError('idleMs must not be negative', { field: 'idleMs' });
  if (!(lockRetryMs > 0)) throw new ValidationError('lockRetryMs must be positive', { field: 'lockRetryMs' });
  if (!(wakeSpacingMs >= 0)) throw new ValidationError('wakeSpacingMs must not be negative', { field: 'wakeSpacingMs' });
  if (!(maxRetryMs > 0)) throw new ValidationError('maxRetryMs must be positive', { field: 'maxRetryMs' });
  const metrics = options.registry === undefined ? null : projectionMetrics(options.registry);
  const key = projectionKey(projection);
  if (options.database === '') throw new ValidationError('database must name the database (or be left out for the shared one)', { field: 'database' });
  const labels = options.database === undefined ? { projection: key } : { projection: key, database: options.database };
  const actor = { kind: 'system' as const, id: `projection.${projection.name}` };
  let leader = false;
  /** The idle wait in progress, if any; a wake-up that finds none is remembered in `woken` for the next. */
  let pause: WakeableSleep | null = null;
  let woken = false;
  let lastBatchAt = -Infinity;
  let spacedWake: NodeJS.Timeout | undefined;

  const wakeNow = () => {
    if (pause?.wake() !== true) woken = true;
  };
  /** Wakes the runner, no sooner than `wakeSpacingMs` after the last batch started. */
  const wake = () => {
    const wait = lastBatchAt + wakeSpacingMs - performance.now();
    if (wait <= 0) wakeNow();
    else
      spacedWake ??= setTimeout(() => {
        spacedWake = undefined;
        wakeNow();
      }, wait);
  };
  const onWakeNotice = (message: pg.Notification) => {
    if (message.channel === PROJECTION_WAKE_CHANNEL && message.payload === key) wake();
  };

  const sleep = async (ms: number, signal: AbortSignal, lost?: AbortSignal) => {
    if (woken || signal.aborted || lost?.aborted) {
      woken = false;
      return;
    }
    pause = wakeableSleep(ms, signal, lost);
    await pause.done;
    pause = null;
  };

  const setLeader = (value: boolean) => {
    if (leader === value) return;
    leader = value;
    metrics?.leader.set(labels, value ? 1 : 0);
    options.onLeadership?.(value);
  };

  /** Takes the lock on a held connection, or returns null when the signal aborts first. */
  const acquire = async (signal: AbortSignal): Promise<pg.PoolClient | null> => {
    while (!signal.aborted) {
      let lockClient: pg.PoolClient | undefined;
      try {
        lockClient = await pool.connect();
        const { rows } = await lockClient.query<{ ok: boolean }>(
          `select pg_try_advisory_lock(hashtext('brigade.projection'), hashtext($1)) as ok`,
          [key],
        );
        if (rows[0]?.ok === true) {
          // The lock lives as long as this session, which idles between batches (they run on other
          // connections): probed, the server ends it within about half a minute of this host vanishing
          // (not the system's 2 h 11 min), and a standby takes over. A failure here releases the
          // connection with the error, which ends the session and its lock.
          await probePeer(lockClient);
          return lockClient;
        }
        lockClient.release();
        options.onLockBusy?.();
      } catch (error) {
        lockClient?.release(error instanceof Error ? error : new Error(String(error)));
        options.onError?.(error);
      }
      await sleep(lockRetryMs, signal);
    }
    return null;
  };

  const lead = async (lockClient: pg.PoolClient, signal: AbortSignal) => {
    // The lock lives as long as this connection: when it breaks, leadership is gone.
    const lost = new AbortController();
    const onLost = (error: unknown) => {
      options.onError?.(error);
      lost.abort();
    };
    const onEnd = () => lost.abort();
    lockClient.on('error', onLost);
    lockClient.on('end', onEnd);
    lockClient.on('notification', onWakeNotice);
    setLeader(true);
    try {
      // Readers waiting for the view wake the leader (waitForPosition). A connection that cannot
      // LISTEN is lost like one that broke: after lockRetryMs the lock is taken again.
      await lockClient.query(`listen ${PROJECTION_WAKE_CHANNEL}`).catch(onLost);
      if (lost.signal.aborted) {
        await sleep(lockRetryMs, signal);
        return;
      }
      // A failure here (the database restarting, say) is reported, never thrown out of run(): after
      // lockRetryMs the lock is given up and taken again, as after a lost lock connection.
      try {
        await unitOfWork(pool, { service: projection.service, actor }, (tx) => ensureCheckpoint(tx, projection));
      } catch (error) {
        options.onError?.(error);
        await sleep(lockRetryMs, signal);
        return;
      }
      // For the lag when a batch fails and the database cannot say how far behind it is: the lag the
      // last good batch found, and when (on the monotonic clock: only the time since is added to it).
      let knownLag = { seconds: 0, at: performance.now() };
      const setLag = (seconds: number) => {
        knownLag = { seconds, at: performance.now() };
        metrics?.lag.set(labels, seconds);
      };
      let failuresInRow = 0;
      while (!signal.aborted && !lost.signal.aborted) {
        let read = 0;
        try {
          let started = 0;
          const batch = () => {
            started = performance.now();
            lastBatchAt = started;
            return unitOfWork(
              pool,
              { service: projection.service, actor },
              async (tx) => {
                const result = await applyBatch(tx, projection, batchSize, { database: pool });
                // Nothing readable need not mean the head: an older transaction may hold committed events back (decision 0011).
                const pendingLag = result.read === 0 && metrics !== null ? await readOldestUnapplied(tx, projection, result.checkpoint) : null;
                return { result, pendingLag };
              },
              BATCH_OPTIONS,
            );
          };
          const { result, pendingLag } = await (options.turns === undefined ? batch() : options.turns.run(batch));
          failuresInRow = 0;
          read = result.read;
          if (read > 0) {
            metrics?.events.inc(labels, read);
            metrics?.position.set(labels, Number(result.checkpoint.position));
            metrics?.batchSeconds.observe(labels, (performance.now() - started) / 1000);
            if (result.lagSeconds !== null) setLag(result.lagSeconds);
            options.onBatch?.(result);
          } else if (pendingLag !== null) {
            setLag(pendingLag);
          } else {
            setLag(0);
          }
        } catch (error) {
          failuresInRow++;
          metrics?.failures.inc(labels);
          options.onError?.(error);
          if (metrics !== null) {
            // The lag from the oldest event not applied; when the database cannot say, the last lag known plus the time since.
            const lag = await unitOfWork(pool, { service: projection.service, actor, readOnly: true }, async (tx) => readOldestUnapplied(tx, projection, await readCheckpoint(tx, projection))).catch(() => undefined);
            if (lag === undefined) metrics.lag.set(labels, knownLag.seconds + (performance.now() - knownLag.at) / 1000);
            else setLag(lag ?? 0);
          }
          // A batch that keeps failing (an event its apply refuses, the database gone) is retried less and
          // less often, and wake-ups do not cut that wait short: readers waiting for the view would.
          await wakeableSleep(Math.min(maxRetryMs, Math.max(idleMs, MIN_RETRY_MS) * 2 ** Math.min(failuresInRow - 1, 30)), signal, lost.signal).done;
          continue;
        }
        if (read < batchSize) await sleep(idleMs, signal, lost.signal);
      }
    } finally {
      setLeader(false);
      clearTimeout(spacedWake);
      spacedWake = undefined;
      lockClient.off('error', onLost);
      lockClient.off('end', onEnd);
      lockClient.off('notification', onWakeNotice);
      if (lost.signal.aborted) {
        lockClient.release(new Error('lock connection lost'));
      } else {
        const unlocked = await lockClient
          .query(`select pg_advisory_unlock(hashtext('brigade.projection'), hashtext($1))`, [key])
          .then(() => lockClient.query(`unlisten ${PROJECTION_WAKE_CHANNEL}`))
          .then(() => stopProbingPeer(lockClient))
          .then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        lockClient.release(unlocked);
      }
    }
  };

  return {
    get leader() {
      return leader;
    },
    async run(signal) {
      while (!signal.aborted) {
        const lockClient = await acquire(signal);
        if (lockClient === null) return;
        await lead(lockClient, signal);
      }
    },
    wake,
  };
}

/**
 * A batch commits without waiting for the WAL flush (decision 0071): the view rows and the checkpoint
 * commit together, so a crash can only take the last batches back, and they are applied again from
 * the event log, which the appends flushed. The writers' commits no longer share their flushes with
 * the projectors' ones.
 */
const BATCH_OPTIONS = { setupStatements: [NO_FLUSH_WAIT] };

/** The shortest wait before a failed batch is tried again, in ms, whatever `idleMs`. */
const MIN_RETRY_MS = 50;

/** Labels of the projection metrics: `database` only on an instance of a dedicated database. */
type ProjectionLabel = 'projection' | 'database';

interface ProjectionMetrics {
  events: client.Counter<ProjectionLabel>;
  position: client.Gauge<ProjectionLabel>;
  leader: client.Gauge<ProjectionLabel>;
  lag: client.Gauge<ProjectionLabel>;
  failures: client.Counter<ProjectionLabel>;
  batchSeconds: client.Histogram<ProjectionLabel>;
}

const byRegistry = new WeakMap<client.Registry, ProjectionMetrics>();

/**
 * The projection metrics of a registry, created once per registry (several runners share them),
 * labelled `projection` and, for an instance of a dedicated database, `database`.
 */
function projectionMetrics(registry: client.Registry): ProjectionMetrics {
  const existing = byRegistry.get(registry);
  if (existing !== undefined) return existing;
  const registers = [registry];
  const labelNames: ProjectionLabel[] = ['projection', 'database'];
  const made: ProjectionMetrics = {
    events: new client.Counter({ name: 'brigade_projection_events_total', help: 'Events a projection has read and applied', labelNames, registers }),
    position: new client.Gauge({ name: 'brigade_projection_position', help: 'Global position (the position part) of the checkpoint', labelNames, registers }),
    leader: new client.Gauge({ name: 'brigade_projection_leader', help: '1 while this process holds the projection leader lock', labelNames, registers }),
    lag: new client.Gauge({
      name: 'brigade_projection_lag_seconds',
      help: 'Age of the last event a batch applied when the batch ran; after a batch that failed or read nothing, age of the oldest event committed after the checkpoint; 0 at the head. Ages are the database server\'s clock less the event\'s recorded_at',
      labelNames,
      registers,
    }),
    failures: new client.Counter({ name: 'brigade_projection_batch_failures_total', help: 'Batches of a projection that failed (rolled back); retried after a growing wait', labelNames, registers }),
    batchSeconds: new client.Histogram({ name: 'brigade_projection_batch_seconds', help: 'Time of one batch transaction', labelNames, registers }),
  };
  byRegistry.set(registry, made);
  return made;
}
