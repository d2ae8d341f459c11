import pg from 'pg';
import { asTransactionConflict, isLockNotAvailable, NO_FLUSH_WAIT, nextTransactionId, probePeer, stopProbingPeer, unitOfWork, type Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { readAllForFold, START, type GlobalPosition } from '../events/index.ts';
import { ensureCheckpoint } from './applyBatch.ts';
import { createShadow } from './createShadow.ts';
import { checkpointTable, projectionKey, qualifiedTable } from './defineProjection.ts';
import { RebuildCancelledError, RebuildFallingBehindError, RebuildInProgressError, RebuildInterruptedByMoveError, RebuildOwnerError, RebuildSwapBlockedError, type BlockingSession } from './errors.ts';
import { enterServiceRole } from './enterServiceRole.ts';
import { estimateEvents } from './estimateEvents.ts';
import { handledEvents } from './handledEvents.ts';
import { inTransaction } from './inTransaction.ts';
import { notifyProjection } from './notifyProjection.ts';
import { replayInMemory } from './replayInMemory.ts';
import type { ReplayState } from './replayState.ts';
import { replayThroughApply } from './replayThroughApply.ts';
import { secureShadow } from './secureShadow.ts';
import { swapTables } from './swapTables.ts';
import { HORIZON_REPORT_MS, waitForHorizon, type HorizonWait } from './waitForHorizon.ts';
import type { Projection, ProjectionReplay } from './types.ts';

/** Where a rebuild is. */
export interface RebuildProgress {
  /**
   * `replaying` into the shadow table, `waiting` for transactions open when the rebuild started to end
   * (their events must be in before the swap), `replaying` again for what was appended meanwhile,
   * `swapping` (live projector paused, final catch-up, the live table's schema checked and its
   * security and owner copied), `done`.
   */
  readonly phase: 'replaying' | 'waiting' | 'swapping' | 'done';
  /** Events read so far. */
  readonly events: number;
  /**
   * Events in the log when the rebuild started: an estimate of the work (the planner's, or a count
   * for a never-analyzed table), raised to `events` when the log turns out longer; 0 until known.
   */
  readonly total: number;
  /**
   * Events read per second of the rebuild's own work: since it started, less {@link waitSeconds}
   * (a rebuild that waited 5 min for an open transaction did not replay any slower for it).
   */
  readonly eventsPerSecond: number;
  /** Rows handed to the writer so far (0 for a projection that writes through `apply`). */
  readonly rowsWritten: number;
  /** Seconds since the rebuild started. */
  readonly seconds: number;
  /** Of {@link seconds}, those spent waiting for transactions open since before the rebuild to end (phase `waiting`). */
  readonly waitSeconds: number;
  /**
   * In phase `waiting` (reported when the wait begins and every `horizonReportMs` while it lasts): how
   * long it has waited, the transaction it waits for (backend pid, how long open, state, query) and
   * when it gives up. Null in the other phases.
   */
  readonly waiting: HorizonWait | null;
  /** The shadow's checkpoint. */
  readonly checkpoint: GlobalPosition;
}

/** Default of `swapLockTimeoutMs`: how long reads of the view may queue behind the swap. */
export const SWAP_LOCK_TIMEOUT_MS = 2000;
/**
 * How long the swap's transaction may sit idle before the server ends its session (and with it the
 * transaction, the checkpoint row it holds and the rebuild lock). Between its statements the swap only
 * folds a page in memory (milliseconds); idle for this long, the command has stopped (Ctrl+Z, a frozen
 * host), and the live batches of the projection, and of every projection that shares their turns,
 * would wait on the row as long as it stays stopped.
 */
export const SWAP_IDLE_TIMEOUT_MS = 5000;
/** Takes a projection's rebuild lock (`$1`: its key), if free: one rebuild at a time, and the owner of a shadow. */
const TRY_REBUILD_LOCK = `select pg_try_advisory_lock(hashtext('brigade.projection-rebuild'), hashtext($1)) as ok`;
/** Releases the lock {@link TRY_REBUILD_LOCK} took. */
const REBUILD_UNLOCK = `select pg_advisory_unlock(hashtext('brigade.projection-rebuild'), hashtext($1))`;

/** The sessions that hold a lock on `table` (for {@link RebuildSwapBlockedError}): read on a connection of their own, since the swap's transaction is aborted. */
async function holdersOf(pool: pg.Pool, table: string) {
  const { rows } = await pool
    .query<BlockingSession>(
      `select a.pid, coalesce(extract(epoch from now() - a.xact_start), 0)::float8 as seconds, a.state, left(a.query, 120) as query
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.relation = to_regclass($1) and l.granted and a.pid <> pg_backend_pid()
        order by a.xact_start limit 5`,
      [table],
    )
    .catch(() => ({ rows: [] }));
  return rows;
}

/**
 * Drops the shadow `shadow` of the projection `key` on a connection of the pool, once the owner's
 * session is gone (ended by the server: a swap left idle, a lost peer) and the rebuild lock with it:
 * only while no other rebuild has taken the lock since, whose shadow it would then be. Failures are
 * left unsaid: the next rebuild drops a leftover shadow.
 */
async function dropUnclaimed(pool: pg.Pool, key: string, shadow: string): Promise<void> {
  const client = await pool.connect().catch(() => undefined);
  if (client === undefined) return;
  let failed: Error | undefined;
  try {
    const locked = await client.query<{ ok: boolean }>(TRY_REBUILD_LOCK, [key]);
    if (locked.rows[0]?.ok !== true) return;
    await client.query(`drop table if exists ${shadow}`).catch(() => undefined);
    await client.query(REBUILD_UNLOCK, [key]);
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error)); // the connection goes, and a lock it may hold with it
  } finally {
    client.release(failed);
  }
}

/** Options of {@link rebuildProjection}. */
export interface RebuildOptions {
  /** Events per statement (page) read from the log. Default {@link DEFAULT_REBUILD_BATCH}. */
  readonly batchSize?: number;
  /**
   * Rows a projection with a `replay` may hold in memory (about 1 KB each). Past it the rebuild
   * writes them all, forgets them and reads back what later events touch. Default 500,000.
   */
  readonly rowsInMemory?: number;
  /**
   * How long the swap may wait for transactions that were running when the rebuild started (their
   * events must be in the new view) before it gives up with {@link HorizonStalledError}. Default 5 min.
   */
  readonly horizonTimeoutMs?: number;
  /**
   * How often a horizon wait that lasts is reported again (`onProgress`, phase `waiting`, with
   * `waiting` set), in ms. Default {@link HORIZON_REPORT_MS} (5 s).
   */
  readonly horizonReportMs?: number;
  /**
   * How long the swap waits to take the live view (ACCESS EXCLUSIVE) before it gives up with
   * {@link RebuildSwapBlockedError}: every read of the view queues behind the waiting swap, and the
   * live projector is paused. Default {@link SWAP_LOCK_TIMEOUT_MS}.
   */
  readonly swapLockTimeoutMs?: number;
  /** Called after every replayed page and at each phase. */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /**
   * Stops the rebuild when it aborts (the CLI's on Ctrl+C or SIGTERM): at the end of the page being
   * replayed, during the horizon wait, or in the swap before its rename; the copy is dropped and the live
   * view stays as it is ({@link RebuildCancelledError}). Once the rename has run, the swap commits.
   */
  readonly signal?: AbortSignal;
  /**
   * Called inside the swap transaction after the final catch-up, before the tables are renamed (the
   * live projector is paused there). For tests that force interleavings; leave unset otherwise.
   */
  readonly beforeSwap?: () => Promise<void>;
  /**
   * Called after each replayed page, outside the writer's transactions (the reader's read-only one may
   * be open: it holds no transaction id). For tests; leave unset otherwise.
   */
  readonly afterBatch?: (events: number) => Promise<void>;
}

/** What a rebuild did. */
export interface RebuildResult {
  readonly events: number;
  readonly rows: number;
  /** From the start to the commit of the swap. */
  readonly seconds: number;
  /** Of {@link seconds}, those spent waiting for transactions open since before the rebuild to end. */
  readonly waitSeconds: number;
  readonly checkpoint: GlobalPosition;
}

const MAX_CATCH_UP_PASSES = 100;
/**
 * Attempts at securing the shadow before the swap. Its grants and policies take shared locks on the
 * roles they name (cluster-wide objects) and the shadow's own lock: PostgreSQL has aborted it once as
 * a deadlock's victim in a full test run (decision 0031), and it is safe to run again (secureShadow
 * drops and revokes what it made first), so a deadlock or serialization failure is tried again rather
 * than throwing the whole replay away.
 */
const SECURE_ATTEMPTS = 3;
/**
 * Events per statement (a page) a rebuild reads when not told otherwise. On the machine of the
 * thirty-fourth and thirty-fifth sessions pages of 5,000 rebuilt 240,000 events at 72,220, 81,653 and
 * (under load 6–9) 50,734 events/s against 17,395–62,688 with 20,000 in the same runs, with less than
 * half the server's CPU (2.5 against 6 s; why the server works harder per event on larger pages was
 * not looked into). (The twelfth session, on another machine: 84,596 with 5,000 and
 * 83,581–102,539 with 20,000.) It also bounds the pages of the swap's catch-up and of projections
 * without `replay`, which are read whole. `brigade projections rebuild --batch N` overrides it.
 */
export const DEFAULT_REBUILD_BATCH: number = 5000;

/**
 * Blue/green rebuild: replays the whole log into a new table beside the live one and swaps it in
 * atomically once it has caught up, so readers never see an empty or partial view.
 *
 * 1. Takes the projection's rebuild lock (one rebuild at a time), checks that the connecting role
 *    can give the rebuilt table to the live table's owner (else {@link RebuildOwnerError}, before
 *    anything is made) and creates `<table>_rebuild` like the live table (`createShadow`: columns,
 *    defaults, checks, indexes, storage parameters and the other settings of `copyTableSettings`;
 *    owner-only). The connection it holds (the owner's) has its peer probed (`probePeer`): when this
 *    host vanishes, the server ends the session, its lock and its swap within about half a minute.
 * 2. Replays every event into it while the live projector keeps serving, reading the log on a
 *    connection of its own in statements of `batchSize` until one comes back short. A projection
 *    with a `replay` (row projections) folds the events in memory as they stream in, and the owner's
 *    connection writes the rows in bulk behind the reader (`replayInMemory`); others apply page by
 *    page, read one page ahead (`replayThroughApply`). The shadow gets the live table's RLS flags,
 *    policies, grants and settings (`secureShadow`): for the latter before the replay, for the former after
 *    its last pass (step 3).
 * 3. Waits until every transaction that was running when the rebuild started has ended: reads stop
 *    below the oldest running one, so without the wait a view behind the live one could be swapped in.
 *    While it waits it reports (phase `waiting`, at once and every `horizonReportMs`) the session it
 *    waits for; the time it waits is left out of `eventsPerSecond`. Replays again, still beside the live projector, what was appended during the wait, until a
 *    page comes back short. Then, in ONE transaction: locks the live checkpoint row (every live batch
 *    locks it first, so the live projector pauses), catches up the little appended since, moves the
 *    checkpoint to the shadow's (adding to `events_applied` the events it handles between the two, as
 *    live batches would have; adding one to the view's generation and recording this checkpoint as where
 *    it was rebuilt, for readers that follow the view by position: `readViewGeneration`), NOTIFYs the projection's listeners of the new checkpoint
 *    (as a live batch does: the catch-up may have applied events no batch will), takes the live table
 *    (ACCESS EXCLUSIVE), refuses if its columns, indexes or constraints no longer match the shadow's
 *    (`RebuildSchemaChangedError`: a migration ran meanwhile), gives the shadow the live
 *    table's RLS flags, policies, table and column grants, settings and owner as they are now, renames live →
 *    `<table>_old` and shadow → live (indexes renamed to the live names), drops the old table,
 *    commits. Readers that queued on the rename see the new table. The swap's session is ended by the
 *    server when it sits idle in its transaction for {@link SWAP_IDLE_TIMEOUT_MS} (a stopped command).
 *
 * Every read of the log is `readAll`'s (or `readAllForFold`'s): below the oldest running transaction,
 * so no late commit is skipped (decision 0011). `pool` must connect as the tables' owner (the
 * migrating role): app roles own nothing and cannot create or rename tables. The log is read as
 * `brigade_<service>` (actor `system`) so RLS applies as usual. It uses up to three of the pool's
 * connections (the owner's, a reader, and for `apply` a writer).
 *
 * @throws {RebuildCancelledError} `signal` aborted before the swap's rename.
 * @throws {RebuildInProgressError} another rebuild of the projection is running.
 * @throws {RebuildOwnerError} the connecting role cannot make the rebuilt table the live owner's.
 * @throws {import("./errors.ts").RebuildSchemaChangedError} the live table's schema changed while the rebuild ran.
 * @throws {RebuildFallingBehindError} the swap's catch-up found more than 100 pages appended since the replay's last page.
 * @throws {import("./errors.ts").HorizonStalledError} a transaction open since before the rebuild stayed open past `horizonTimeoutMs`.
 * @throws the server's error (`25P03` idle-in-transaction timeout, …) when it ended the owner's session.
 */
export async function rebuildProjection(pool: pg.Pool, projection: Projection, options: RebuildOptions = {}): Promise<RebuildResult> {
  const batchSize = options.batchSize ?? DEFAULT_REBUILD_BATCH;
  const rowsInMemory = options.rowsInMemory ?? 500_000;
  for (const [field, value] of Object.entries({ batchSize, rowsInMemory })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new ValidationError(`${field} must be a positive integer`, { field });
  }
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const key = projectionKey(projection);
  const live = qualifiedTable(projection);
  const shadowName = `${projection.table}_rebuild`;
  const shadow = qualifiedTable(projection, shadowName);
  const context = { service: projection.service, actor: { kind: 'system' as const, id: `rebuild.${projection.name}` } };
  const owner = await pool.connect();
  let ownerError: Error | undefined;
  // The first: the server's reason for ending the session comes before pg's "Connection terminated".
  const onOwnerError = (error: Error) => (ownerError ??= error);
  owner.on('error', onOwnerError);
  const state: ReplayState = { events: 0, rowsWritten: 0, checkpoint: START };
  let total = 0;
  /** Seconds spent in the horizon wait: finished waits, and the one going on since `waitStarted`. */
  let waited = 0;
  let waitStarted: number | null = null;
  const waitSeconds = () => waited + (waitStarted === null ? 0 : (performance.now() - waitStarted) / 1000);
  const progress = (phase: RebuildProgress['phase'], waiting: HorizonWait | null = null) => {
    const now = seconds();
    const wait = waitSeconds();
    options.onProgress?.({
      phase, events: state.events, total: total === 0 ? 0 : Math.max(total, state.events), rowsWritten: state.rowsWritten, checkpoint: state.checkpoint,
      seconds: now, waitSeconds: wait, waiting, eventsPerSecond: state.events / Math.max(1e-3, now - wait),
    });
  };
  const signal = options.signal;
  /** Throws once `signal` has aborted: every caller is before the swap's rename, and the catch below drops the copy. */
  const stopIfAborted = () => {
    if (signal?.aborted === true) throw new RebuildCancelledError(projection.name, signal.reason);
  };
  const onPage = async () => {
    stopIfAborted();
    progress('replaying');
    if (options.afterBatch !== undefined) await options.afterBatch(state.events);
  };

  try {
    stopIfAborted();
    // The rebuild lock, and in the swap the live checkpoint row, are held on this connection: probed,
    // the server ends the session within about half a minute of this host vanishing (a laptop asleep
    // mid-rebuild), instead of refusing the next rebuild and pausing the live view for 2 h 11 min.
    await probePeer(owner);
    const locked = await owner.query<{ ok: boolean }>(TRY_REBUILD_LOCK, [key]);
    if (locked.rows[0]?.ok !== true) throw new RebuildInProgressError(projection.name);
    try {
      // The swap gives the rebuilt table to the live owner (ALTER OWNER: unless a superuser connects, the
      // connecting role must be a member of it, and it must be able to create in the schema): checked
      // here, not found out after the whole replay.
      const owned = await owner.query<{ owner: string; current: string; may: boolean }>(
        `select pg_get_userbyid(c.relowner) as owner, current_user::text as current,
                c.relowner = (select oid from pg_roles where rolname = current_user)
                or (select rolsuper from pg_roles where rolname = current_user)
                or (pg_has_role(current_user, c.relowner, 'USAGE') and has_schema_privilege(c.relowner, c.relnamespace, 'CREATE')) as may
           from pg_class c where c.oid = $1::regclass`,
        [live],
      );
      const { owner: liveOwner, current, may } = owned.rows[0]!;
      if (!may) throw new RebuildOwnerError(projection.name, live, liveOwner, current);
      // Every transaction that wrote before now is below this fence; the swap waits until all have ended.
      const fence = await nextTransactionId(owner);
      // A tenant move bumps the epoch (decision 0008); the swap refuses a shadow replayed across one.
      const epoch = await unitOfWork(pool, context, async (tx) => {
        await ensureCheckpoint(tx, projection);
        return (await tx.query<{ epoch: string }>(`select epoch::text as epoch from ${checkpointTable(projection)} where name = $1`, [projection.name])).rows[0]?.epoch;
      });
      const estimated = estimateEvents(pool, context, projection.schema).then((n) => (total = Math.max(total, n)));
      estimated.catch(() => undefined); // only the progress waits for it
      await createShadow(owner, projection, shadowName);
      const replay = projection.replay?.();
      const secure = async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await inTransaction(owner, { service: projection.service }, async (tx) => {
              await tx.query(NO_FLUSH_WAIT); // the shadow is disposable until the swap commits
              await secureShadow(owner, projection, shadowName);
            });
          } catch (error) {
            if (attempt >= SECURE_ATTEMPTS || asTransactionConflict(error) === undefined) throw error;
          }
        }
      };
      // Both resume from `state`: run again, they read on from its checkpoint.
      const replayFromCheckpoint = () =>
        replay === undefined
          ? replayThroughApply({ pool, projection, shadow, context, batchSize, state, onPage })
          : replayInMemory({ pool, owner, projection, replay, shadow, context, batchSize, rowsInMemory, state, onPage });
      try {
        // 2. Replay while the live projector serves. `apply` writes as the service role: secured first;
        // the in-memory replay COPYs as the owner: secured after its last pass (below).
        if (replay === undefined) await secure();
        await replayFromCheckpoint();
        // 3. Reads stop below the oldest running transaction: one open since before the rebuild began
        // would otherwise leave out what committed around it, and the swap would put in a view behind
        // the live one. Wait for it to end.
        await estimated.catch(() => undefined);
        // Counted as waiting only when it had to wait (`onWait` came): a horizon already past the fence costs one read.
        const waitCalled = performance.now();
        try {
          await waitForHorizon(owner, fence, {
            timeoutMs: options.horizonTimeoutMs ?? 300_000,
            reportEveryMs: options.horizonReportMs ?? HORIZON_REPORT_MS,
            onWait: (wait) => {
              waitStarted ??= waitCalled;
              progress('waiting', wait);
            },
            signal,
          });
        } finally {
          waited = waitSeconds();
          waitStarted = null;
        }
        stopIfAborted();
        // What was appended during the wait (up to horizonTimeoutMs of appends, and what the bound held
        // back) is replayed here, with the live projector serving, until a page comes back short: the
        // swap, which pauses the live projector, then only catches up what came after that page.
        // Without a wait this is usually one short page.
        await replayFromCheckpoint();
        if (replay !== undefined) await secure();
        stopIfAborted();
        // Then pause the live projector, catch up, swap, in one transaction.
        progress('swapping');
        await inTransaction(owner, context, async (tx) => {
          // A command stopped in here (Ctrl+Z) would hold the checkpoint row as long as it stays stopped.
          await tx.query(`select set_config('idle_in_transaction_session_timeout', $1, true)`, [String(SWAP_IDLE_TIMEOUT_MS)]);
          await enterServiceRole(tx, context);
          const locked = await tx.query<{ epoch: string }>(`select epoch::text as epoch from ${checkpointTable(projection)} where name = $1 for update`, [projection.name]);
          // The shadow may hold rows of a tenant that moved away meanwhile: swapping it in would bring them back.
          if (locked.rows[0]?.epoch !== epoch) throw new RebuildInterruptedByMoveError(projection.name);
          // Until a page comes back short. The reads stop below this transaction's own id (the row lock
          // took one), so only transactions older than it can still add to what they see; whatever
          // commits after the last page, the live projector applies from the checkpoint set below.
          for (let passes = 1; (await catchUp(tx, projection, replay, shadow, batchSize, state)) === batchSize; passes++) {
            if (passes >= MAX_CATCH_UP_PASSES) throw new RebuildFallingBehindError(projection.name, passes, batchSize);
          }
          if (replay !== undefined && replay.pending > 0) {
            const rows = replay.take();
            state.rowsWritten += rows.fresh.length + rows.rewritten.length;
            await replay.write(tx, shadow, rows);
          }
          // `events_applied` counts what the view has applied since the row was made (a live batch adds the
          // events of its page it handles): the events between the live checkpoint and the shadow's were
          // applied by the rebuild alone, so the swap adds them, counted as a batch counts (their types),
          // or the count would skip them. Every transaction at or below the shadow's checkpoint had ended
          // when the replay read past it, so this count sees the events the replay did. The SET's
          // `c.transaction_id`, `c.position` are the row's values before this update: the live checkpoint.
          // With the live projector near the head the range is a few events on events_global_order; with
          // none ever run, the whole log: 0.2 s for 240,000 events (measured, load 28), before the view is locked.
          // The rebuilt rows keep the positions of their last events, so a reader that follows the view by
          // position (the live-board stream) would never be sent them: the swap adds one to the view's
          // generation and records its checkpoint, which such a reader watches (readViewGeneration).
          await tx.query(
            `update ${checkpointTable(projection)} c set transaction_id = $2::xid8, position = $3::bigint, updated_at = now(),
                    generation = c.generation + 1, rebuilt_transaction_id = $2::xid8, rebuilt_position = $3::bigint,
                    events_applied = c.events_applied + (
                      select count(*) from ${pg.escapeIdentifier(projection.store.schema)}.events e
                       where (e.transaction_id, e.global_position) > (c.transaction_id, c.position)
                         and (e.transaction_id, e.global_position) <= ($2::xid8, $3::bigint)
                         and ($4::text[] is null or e.type = any($4::text[])))
              where name = $1`,
            [projection.name, state.checkpoint.transactionId.toString(), state.checkpoint.position.toString(), projection.eventTypes === undefined ? null : [...projection.eventTypes]],
          );
          // The catch-up may have applied events the live projector had not: it finds nothing new after
          // this checkpoint and sends no NOTIFY for them, so the swap sends it (delivered at its commit),
          // or open board streams would not hear of those changes until the next batch.
          await notifyProjection(tx, projection, state.checkpoint);
          if (options.beforeSwap !== undefined) await options.beforeSwap();
          stopIfAborted(); // the last moment: after the rename below, the swap commits
          await tx.query('set local role none');
          // Reads of the view queue behind the swap while it waits for the table: never for long. A
          // session that holds the view (a report, a transaction left idle) fails the swap instead.
          const lockTimeoutMs = options.swapLockTimeoutMs ?? SWAP_LOCK_TIMEOUT_MS;
          await tx.query(`select set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
          try {
            await swapTables(owner, projection, live, shadowName, `${projection.table}_old`);
          } catch (error) {
            if (!isLockNotAvailable(error)) throw error;
            throw new RebuildSwapBlockedError(projection.name, live, await holdersOf(pool, live), lockTimeoutMs);
          }
        });
      } catch (error) {
        await owner.query(`drop table if exists ${shadow}`).catch(() => dropUnclaimed(pool, key, shadow));
        // A session the server ended fails the next query with pg's "not queryable": say why it ended.
        throw ownerError ?? error;
      }
      const took = seconds();
      const rows = await unitOfWork(pool, context, async (tx) => Number((await tx.query<{ n: string }>(`select count(*)::text as n from ${live}`)).rows[0]?.n));
      progress('done');
      return { events: state.events, rows, seconds: took, waitSeconds: waited, checkpoint: state.checkpoint };
    } finally {
      await owner.query(REBUILD_UNLOCK, [key]).catch(() => undefined);
    }
  } finally {
    // Back to the pool as it came (a connection that cannot be put back is dropped).
    if (ownerError === undefined) await stopProbingPeer(owner).catch((error: unknown) => (ownerError = error instanceof Error ? error : new Error(String(error))));
    owner.off('error', onOwnerError);
    owner.release(ownerError);
  }
}

/**
 * One catch-up page inside the swap transaction (as the service role, RLS on the shadow now): reads
 * after the shadow's checkpoint and folds or applies it (the replay's rows are written by the caller
 * after the last page). Returns the number of events read: fewer than `batchSize` means caught up.
 */
async function catchUp(tx: Tx, projection: Projection, replay: ProjectionReplay | undefined, shadow: string, batchSize: number, state: ReplayState): Promise<number> {
  const after = state.checkpoint;
  let read: number;
  if (replay === undefined) {
    const page = await projection.store.readAll(tx, { after, limit: batchSize });
    const events = handledEvents(projection, page.events);
    if (events.length > 0) await projection.apply(tx, events, shadow);
    state.checkpoint = page.checkpoint;
    read = page.events.length;
  } else {
    const page = await readAllForFold(projection.store, tx, { after, limit: batchSize });
    const events = handledEvents(projection, page.events);
    await replay.load(tx, events, shadow);
    replay.fold(events);
    state.checkpoint = page.checkpoint;
    read = page.events.length;
  }
  state.events += read;
  return read;
}
