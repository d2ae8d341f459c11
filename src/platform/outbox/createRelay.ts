import pg from 'pg';
import type client from 'prom-client';
import { nextTransactionId, probePeer, sendBatch, unitOfWork } from '../db/index.ts';
import { boundedUntil } from '../db/localTimeouts.ts';
import { BrigadeError, ValidationError } from '../errors/index.ts';
import { backoffDelay, validateMessage, type OutgoingMessage, type Transport } from '../messaging/index.ts';
import { checkpointHistory } from './checkpointHistory.ts';
import { compareOutboxPositions } from './compareOutboxPositions.ts';
import { OutboxMessageRefusedError, OutboxSubjectRefusedError } from './errors.ts';
import { findForeignSubject } from './findForeignSubject.ts';
import { claimOutboxBatch, readOutboxHorizon, type OutboxCheckpoint, type OutboxRow } from './claimOutboxBatch.ts';
import { isMessageRefusal } from './isMessageRefusal.ts';
import { publishedPrefix, readOutboxCheckpoint, saveOutboxCheckpoint } from './outboxCheckpoint.ts';
import { createWakeup } from '../runtime/createWakeup.ts';
import { sleep as delay } from '../runtime/sleep.ts';
import { outboxChannel } from './outboxSchemaSql.ts';
import { BACKLOG_READ_TIMEOUT_MS, outboxMetrics, type OutboxLabels } from './outboxMetrics.ts';
import { pruneOutbox, type PruneBound } from './pruneOutbox.ts';
import { publishInOrder } from './publishInOrder.ts';
import { readOutboxBacklog } from './readOutboxBacklog.ts';

/** What a relay reports through {@link RelayOptions.onProgress}. */
export type RelayEvent =
  | { readonly kind: 'leader' }
  | { readonly kind: 'standby' }
  | { readonly kind: 'published'; readonly messages: readonly OutgoingMessage[] }
  /** One prune pass ended: `count` rows deleted, in all its batches. */
  | { readonly kind: 'pruned'; readonly count: number }
  | { readonly kind: 'sleeping' }
  /** Committed rows wait above the horizon (an older transaction is still running): the relay polls. */
  | { readonly kind: 'held' }
  | { readonly kind: 'error'; readonly error: unknown };

/** Options for {@link createRelay}. */
export interface RelayOptions {
  /** Pool of the database holding the outbox. The leader keeps one of its connections for as long as it leads. */
  readonly pool: pg.Pool;
  /** The service whose outbox this is: the relay runs as its role `brigade_<service>`, actor kind `system`. */
  readonly service: string;
  /** Schema of the outbox. Default: `service`. */
  readonly schema?: string;
  /** Where messages go; `publish` must resolve only after the broker durably accepted them. */
  readonly transport: Transport;
  /** Rows claimed per round. Default 500. */
  readonly batchSize?: number;
  /**
   * Published rows are kept at least this long after the broker acked them, then deleted (decision
   * 0067). The leader knows when it published; rows a previous leader published go once they were
   * written this long ago, or this long after this relay took the lead. Default 1 hour.
   */
  readonly retentionMs?: number;
  /**
   * How often the leader starts a prune pass. A pass deletes everything then due, in batches of
   * `pruneBatchSize`, beside the relaying (decision 0067). Default 60 s.
   */
  readonly pruneIntervalMs?: number;
  /** Rows per prune DELETE: each batch is a short transaction of its own, so none holds its locks long. Default 1000. */
  readonly pruneBatchSize?: number;
  /** A sleeping relay looks anyway this often (a lost notification, a stalled horizon). Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** A standby tries to take the leader lock this often. Default 1000 ms. */
  readonly lockPollMs?: number;
  /**
   * After the outbox ran empty the relay keeps polling this long before it sleeps (and producers start
   * notifying it again). Under steady load it therefore never sleeps, and no producer pays for a NOTIFY
   * (decision 0036). Default 25 ms.
   */
  readonly idleLingerMs?: number;
  /**
   * Poll step while lingering, after a partial batch, and while rows wait above the horizon. After a
   * partial batch the step counts from the claim's start, so the time the broker takes to ack does not
   * add to it (decision 0056). Default 8 ms (decision 0060).
   */
  readonly busyPollMs?: number;
  /**
   * The checkpoint is written at most this often, with a claim (and always before the relay sleeps or
   * stops). Under load that is one write of the state row every interval instead of one per batch;
   * after a crash the next leader publishes again what the lost interval covered, and the broker
   * dedupes it by message id. Default 250 ms.
   */
  readonly checkpointIntervalMs?: number;
  /** Registry for the outbox metrics (depth, oldest age, published, latency, publish failures, leader). */
  readonly registry?: client.Registry;
  /**
   * The database this relay serves, for its metrics: a relay of a dedicated database (decision 0008)
   * passes its pool's label (`deps.placement`, e.g. `db-1a2b3c4d`), and its series get the label
   * `database="db-1a2b3c4d"` beside `outbox`; leave it out for the shared database, whose series keep exactly
   * the labels they always had (`{outbox="ordering"}`). Without it, two relays of one outbox on two
   * databases that share a registry would report as one (the second's backlog reader replacing the
   * first's).
   *
   * A label of its own rather than a suffix of the outbox label (`ordering@db-1a2b3c4d`): a query or alert on
   * `outbox="ordering"` still sees every database's backlog, `sum by (outbox)` adds them up, and
   * `outbox` stays the schema's name. The shared series are unchanged either way, since a series
   * without the label is exported as before.
   *
   * @example
   * createRelay({ pool: deps.databases.poolFor('ordering'), service: 'ordering', transport, registry, database: deps.placement });
   */
  readonly database?: string;
  /**
   * What the relay waits for before it first competes for the leader lock (its backlog metrics report
   * meanwhile); resolving early when `signal` aborts. A relay of a restaurant's dedicated database waits
   * here until the shared database's relay has published what the restaurant wrote before it moved, so
   * that its new messages do not overtake them (`waitForMovedMessages`, decision 0008).
   */
  readonly startAfter?: (signal: AbortSignal) => Promise<void>;
  /** Progress and errors (the relay keeps going after an error). */
  readonly onProgress?: (event: RelayEvent) => void;
  /**
   * Called after the broker acked a batch and before the rows are marked. For fault-injection tests
   * (kill the process here) and instrumentation; a throw is treated like a failed publish.
   */
  readonly afterPublish?: (messages: readonly OutgoingMessage[]) => void | Promise<void>;
}

/** A relay of one outbox. */
export interface Relay {
  /**
   * Runs until `signal` aborts: competes for the leader lock, and while it holds it publishes the
   * outbox. Resolves after the leader connection was given up. Never rejects for a database or broker
   * failure: it reports it and tries again.
   */
  run(signal: AbortSignal): Promise<void>;
  /** Whether this relay holds the leader lock now. */
  isLeader(): boolean;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;
const INSUFFICIENT_PRIVILEGE = '42501';
/** First key of the leader lock (two-int advisory lock space): 'outb'. The second is hashtext(schema). */
const LOCK_CLASS = 0x6f75_7462;

/**
 * Creates the relay of one service's outbox (decision 0035).
 *
 * - One active relay per outbox: the leader holds a session advisory lock; standbys try it every
 *   `lockPollMs` and take over when the leader's session ends (its process died, its connection broke;
 *   its host vanished: the lock's connection is probed both ways, `probePeer`, so the server ends the
 *   session within about half a minute).
 *   Every claim and mark runs on the very session that holds the lock, so a relay that lost the lock
 *   cannot mark anything.
 * - Rows are claimed after the relay's checkpoint and below the oldest running transaction, in
 *   (transaction_id, id) order, published in waves that keep each aggregate's order, and the checkpoint
 *   moves past them only after the broker's ack (decision 0038): at-least-once, with the message id as
 *   the broker's dedupe key.
 * - With the PostgreSQL transport on the outbox's own database (`transport.busPool === pool`) the claim
 *   and the publish are one INSERT … SELECT (decision 0056): the rows never travel to the relay and
 *   back, the bus receives them in claim order, and `published` events carry them without payload.
 * - A service publishes only its own subjects: a row whose subject does not start with `<service>.`
 *   stops the relay with {@link OutboxSubjectRefusedError} (`OUTBOX_SUBJECT_NOT_OWN`, reported as an
 *   error, retried) until the row is gone, on every transport (decision 0056, "Later").
 * - A row whose message the transport refuses (written before the check at write time, or by hand)
 *   stops the relay the same way, with {@link OutboxMessageRefusedError} (`OUTBOX_MESSAGE_REFUSED`)
 *   naming the row; an outage is reported as the transport's own error. Both count in
 *   `brigade_outbox_publish_failures_total` (decision 0078, "Fixed later").
 * - Wake-up: LISTEN, with producers notifying only while the relay has flagged itself asleep (decision 0036).
 * - Prune: every `pruneIntervalMs` the leader deletes, beside the relaying and in batches until done,
 *   the rows it published at least `retentionMs` ago, by position in the relay's order (decision 0067).
 *
 * @example
 * const relay = createRelay({ pool: databases.poolFor('ordering'), service: 'ordering', transport, registry });
 * const done = relay.run(signal);
 */
export function createRelay(options: RelayOptions): Relay {
  const schema = options.schema ?? options.service;
  for (const [field, value] of Object.entries({ service: options.service, schema })) {
    if (!IDENTIFIER.test(value)) throw new ValidationError(`${field} must be a lower-case SQL identifier`, { field });
  }
  const table = `${pg.escapeIdentifier(schema)}.outbox`;
  const state = `${pg.escapeIdentifier(schema)}.outbox_state`;
  const channel = outboxChannel(schema);
  const role = `brigade_${options.service}`;
  const subjectPrefix = `${options.service}.`;
  /** The claimed rows, or OutboxSubjectRefusedError for the first whose subject is another service's. */
  const ownSubjectsOnly = (rows: OutboxRow[]): OutboxRow[] => {
    const foreign = rows.find((row) => !row.message.subject.startsWith(subjectPrefix));
    if (foreign === undefined) return rows;
    throw new OutboxSubjectRefusedError({ outbox: schema, service: options.service, id: foreign.id, messageId: foreign.message.id, subject: foreign.message.subject });
  };
  /**
   * A failed publish of `wave` as the relay reports it: a refusal of a message itself becomes
   * OutboxMessageRefusedError naming the row (the one the transport's error names, `details.messageId`,
   * as JetStream's refusals do; else the first the transports' own check refuses; else the wave's first),
   * with the transport's error as its cause; anything else (an outage) stays as it is.
   */
  const describeFailure = (wave: readonly OutboxRow[], error: unknown): unknown => {
    if (wave.length === 0 || !isMessageRefusal(error)) return error;
    const named = error instanceof BrigadeError ? error.details.messageId : undefined;
    const refused = wave.find((row) => {
      if (named !== undefined) return row.message.id === named;
      try {
        validateMessage(row.message);
        return false;
      } catch {
        return true;
      }
    });
    const row = refused ?? wave[0]!;
    const sentWith = refused === undefined && wave.length > 1 ? wave.length : undefined;
    return new OutboxMessageRefusedError({ outbox: schema, id: row.id, messageId: row.message.id, subject: row.message.subject }, { cause: error, sentWith });
  };
  const batchSize = positive(options.batchSize ?? 500, 'batchSize');
  const retentionMs = positive(options.retentionMs ?? 3_600_000, 'retentionMs');
  const pruneIntervalMs = positive(options.pruneIntervalMs ?? 60_000, 'pruneIntervalMs');
  const pruneBatchSize = positive(options.pruneBatchSize ?? 1000, 'pruneBatchSize');
  const pollIntervalMs = positive(options.pollIntervalMs ?? 1000, 'pollIntervalMs');
  const lockPollMs = positive(options.lockPollMs ?? 1000, 'lockPollMs');
  const idleLingerMs = options.idleLingerMs ?? 25;
  const busyPollMs = positive(options.busyPollMs ?? 8, 'busyPollMs');
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 250;
  if (!(checkpointIntervalMs >= 0)) throw new ValidationError('checkpointIntervalMs must be zero or a positive number', { field: 'checkpointIntervalMs' });
  const progress = options.onProgress ?? (() => undefined);
  const metrics = options.registry === undefined ? null : outboxMetrics(options.registry);
  if (options.database === '') throw new ValidationError('database must name the database (or be left out for the shared one)', { field: 'database' });
  const metricLabels: OutboxLabels = options.database === undefined ? { outbox: schema } : { outbox: schema, database: options.database };
  let leading = false;
  // When the checkpoint was where, across this relay's sessions, and the checkpoint its first session
  // found (what others published, at times unknown): a session that failed and came back must not take
  // rows this relay published a minute ago for rows of unknown age (decision 0067).
  const history = checkpointHistory(retentionMs);
  let inherited: OutboxCheckpoint | null = null;
  // The bus is tables of the outbox's own database: claim and publish are one statement (decision 0056).
  let toBus = options.transport.busPool !== undefined && options.transport.busPool === options.pool;

  // Bounded in the database as the scrape bounds its wait (outboxMetrics): a read stuck behind a lock
  // ends there too, instead of keeping a connection of the pool the relay shares.
  const readBacklog = () =>
    unitOfWork(
      options.pool,
      { service: options.service, actor: { kind: 'system', id: 'outbox-metrics' }, readOnly: true },
      (tx) => readOutboxBacklog(tx, table, state),
      boundedUntil(Date.now() + BACKLOG_READ_TIMEOUT_MS),
    );

  /**
   * Publishes the outbox while holding the lock on `client`; returns when aborted, throws when the
   * session fails. `released` aborts once the session is given up (after either).
   */
  const lead = async (client: pg.PoolClient, signal: AbortSignal, released: AbortSignal): Promise<void> => {
    const wakeup = createWakeup(signal);
    client.on('notification', (n) => {
      if (n.channel === channel) wakeup.wake();
    });
    // Session-level role and actor: this connection is never returned to the pool (released destroyed).
    // synchronous_commit off: a mark lost in a crash only means a republish, which the broker dedupes,
    // so the relay's commits need not wait for the WAL flush that the producers' commits queue on.
    await client.query(
      `set role ${client.escapeIdentifier(role)}; set synchronous_commit = off; ` +
        `select set_config('brigade.actor_kind', 'system', false), set_config('brigade.actor_id', 'outbox-relay', false), set_config('brigade.tenant_id', '', false); ` +
        `listen ${client.escapeIdentifier(channel)}`,
    );
    const setSleeping = async (sleeping: boolean) => {
      await client.query(`update ${state} set sleeping = $1, changed_at = now() where sleeping is distinct from $1`, [sleeping]);
    };
    await setSleeping(false);
    let checkpoint = await readOutboxCheckpoint(client, state);
    // The prune's bound (decision 0067): when the checkpoint was where, noted as it moves (`history`,
    // kept across this relay's sessions: a note is true whoever led since). What this session found
    // already published it notes as published now; while no note is a retention old, the rows up to
    // what the FIRST session found go by their created_at instead (when another process published
    // them is not known); rows this relay published wait for their note.
    // A checkpoint behind what this relay noted (a database crash lost the tail of its commits, which
    // do not wait for the WAL flush, or it was moved back by hand): the rows past it are not published
    // now, so nothing past it may be pruned before this session publishes them again.
    if (inherited !== null && compareOutboxPositions(checkpoint, inherited) < 0) inherited = checkpoint;
    history.rewind(checkpoint);
    const found: OutboxCheckpoint = (inherited ??= checkpoint);
    history.record(checkpoint, performance.now());
    // Where this leader's last pass stopped: rows up to it are gone, the next pass starts after it.
    let prunedTo: OutboxCheckpoint | undefined;
    const pruneBound = (): PruneBound | null => {
      const now = performance.now();
      history.record(checkpoint, now);
      const upTo = history.publishedBefore(now);
      if (upTo !== null) return { after: prunedTo, upTo };
      return found.id === '0' && found.transactionId === '0' ? null : { after: prunedTo, upTo: found, createdMoreThanMsAgo: retentionMs };
    };
    // A prune pass runs beside the relaying, on this session: the session runs one statement at a time,
    // so a claim waits for at most one prune batch. Stopped (after its batch) when the relay stops; when
    // the session failed, its batch fails with it, quietly.
    const pruneSignal = AbortSignal.any([signal, released]);
    let pruning: Promise<void> | null = null;
    const startPrune = (bound: PruneBound) =>
      pruneOutbox(client, table, bound, { batchSize: pruneBatchSize, signal: pruneSignal }).then(
        ({ count, through }) => {
          prunedTo = through ?? prunedTo;
          if (count > 0) progress({ kind: 'pruned', count });
        },
        (error: unknown) => {
          if (!pruneSignal.aborted) progress({ kind: 'error', error });
        },
      );
    // A checkpoint moved in memory but not yet saved: it goes out with a claim once checkpointIntervalMs
    // has passed since the last save (no round trip of its own). Lost in a crash, it only means those
    // batches are published again (and deduped).
    let unsaved: OutboxCheckpoint | null = null;
    let savedAt = 0;
    /** The save of the unsaved checkpoint, if any (and `force` or due), as statements to send along. */
    const takeSave = (force: boolean) => {
      if (unsaved === null || (!force && Date.now() - savedAt < checkpointIntervalMs)) return [];
      const save = saveOutboxCheckpoint(state, unsaved);
      unsaved = null;
      savedAt = Date.now();
      return [save];
    };
    /** Writes the unsaved checkpoint now (before sleeping or stopping). */
    const flushCheckpoint = async () => {
      const save = takeSave(true);
      if (save.length > 0) await sendBatch(client, save);
    };
    // The next batch, claimed while the broker acked the previous one.
    let ahead: Promise<OutboxRow[]> | null = null;
    /**
     * Claims the rows after `after`; the unsaved checkpoint, if any, travels with it. A row of another
     * service's subject stops the relay (OutboxSubjectRefusedError) on every path: in-database the bus
     * refuses the role's insert (platform migration 0020), and elsewhere the relay refuses to publish
     * it as the platform, which would let a service publish any subject through its outbox.
     */
    const claim = async (after: OutboxCheckpoint) => {
      const save = takeSave(false);
      if (!toBus) return ownSubjectsOnly(await claimOutboxBatch(client, table, after, batchSize, save));
      try {
        return await claimOutboxBatch(client, table, after, batchSize, save, true);
      } catch (error) {
        if ((error as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw error;
        // Refused by the subject policy, not for a missing grant: falling back to the transport (which
        // publishes as the bus's owner) would publish the very row the database refused.
        const foreign = await findForeignSubject(client, table, after, subjectPrefix);
        if (foreign !== null) throw new OutboxSubjectRefusedError({ outbox: schema, service: options.service, ...foreign }, { cause: error });
        // The service role may not write the bus (a bus made by ensureBusSchema alone, without platform
        // migration 0007): publish through the transport from now on. The failed batch rolled back
        // whole, the checkpoint save with it, so both are sent again.
        toBus = false;
        progress({ kind: 'error', error: new Error(`${role} may not insert into the bus; publishing through the transport instead (grant it as platform migration 0007 does)`, { cause: error }) });
        return ownSubjectsOnly(await claimOutboxBatch(client, table, after, batchSize, save));
      }
    };
    let asleep = false;
    let lingerSince: number | null = null;
    let fence: bigint | null = null;
    let idleStep = busyPollMs;
    let failures = 0;
    let nextPrune = Date.now() + Math.min(pruneIntervalMs, 1000);

    while (!signal.aborted) {
      if (pruning === null && Date.now() >= nextPrune) {
        nextPrune = Date.now() + pruneIntervalMs;
        const bound = pruneBound();
        if (bound !== null) {
          const pass = startPrune(bound).finally(() => {
            if (pruning === pass) pruning = null;
          });
          pruning = pass;
        }
      }
      const claimedAt = performance.now();
      const rows = await (ahead ?? claim(checkpoint));
      ahead = null;
      if (rows.length > 0) {
        if (asleep) {
          await setSleeping(false);
          asleep = false;
        }
        lingerSince = null;
        fence = null;
        idleStep = busyPollMs;
        // After a full batch (more rows are likely waiting), claim the next one while the broker acks
        // these: the loop then costs the longer of the two round trips, not their sum. Used only if
        // these all went out; otherwise the next claim starts again from the checkpoint. In-database
        // the claim is the publish, so there is nothing to overlap.
        const last = rows.at(-1)!;
        if (!toBus && rows.length === batchSize) {
          ahead = claim({ transactionId: last.transactionId, id: last.id });
          ahead.catch(() => undefined); // awaited (or dropped) below; never left unhandled
        }
        // In-database: the claim itself published the rows (committed with it).
        const { published, error, failed } = toBus ? { published: rows, error: null, failed: [] } : await publishInOrder(options.transport, rows);
        let failure = error === null ? null : describeFailure(failed, error);
        let markable: readonly OutboxRow[] = published;
        if (published.length > 0 && options.afterPublish !== undefined) {
          try {
            await options.afterPublish(published.map((row) => row.message));
          } catch (hookError) {
            failure = hookError;
            markable = [];
          }
        }
        // Only the prefix the checkpoint passes is relayed (and counted, and reported): rows of later
        // waves that went out after a failed one are claimed and published again next round.
        const relayed = publishedPrefix(rows, markable);
        if (relayed.length > 0) {
          const end = relayed.at(-1)!;
          const relayedTo = { transactionId: end.transactionId, id: end.id };
          checkpoint = relayedTo;
          unsaved = relayedTo;
          history.record(relayedTo, performance.now());
          const now = Date.now();
          metrics?.published(metricLabels, relayed.length, relayed.map((r) => Math.max(0, now - r.createdAtMs) / 1000));
          progress({ kind: 'published', messages: relayed.map((row) => row.message) });
        }
        if (failure !== null || relayed.length < rows.length) {
          await ahead?.catch(() => undefined);
          ahead = null;
        }
        if (failure !== null) {
          // The broker refused: back off, then claim again from the first unmarked row.
          failures++;
          metrics?.publishFailed(metricLabels);
          progress({ kind: 'error', error: failure });
          await wakeup.wait(Math.min(5000, backoffDelay(failures, { initialMs: 100, maxMs: 5000 })), { wakeable: false });
        } else failures = 0;
        // A partial batch means the outbox is drained up to now: let rows gather for one poll step
        // rather than claim and publish a handful per round trip. The step counts from the claim's
        // start: waiting a full step after the broker's acks made a cycle of a step plus the publish,
        // and every message waited for half of that on average.
        if (rows.length < batchSize) await wakeup.wait(Math.max(0, busyPollMs - (performance.now() - claimedAt)), { wakeable: false });
        continue;
      }
      // Empty. Keep polling for a while before sleeping, so steady traffic never makes producers notify.
      lingerSince ??= Date.now();
      if (!asleep && Date.now() - lingerSince < idleLingerMs) {
        await wakeup.wait(busyPollMs, { wakeable: false });
        continue;
      }
      const horizon = await readOutboxHorizon(client, table, checkpoint);
      if (horizon.pending) {
        // Committed rows wait behind an older running transaction: stay awake (producers need not
        // notify) and poll, backing off, until the horizon passes them.
        progress({ kind: 'held' });
        if (asleep) {
          await setSleeping(false);
          asleep = false;
        }
        await wakeup.wait(idleStep, { wakeable: false });
        idleStep = Math.min(pollIntervalMs, idleStep * 2);
        continue;
      }
      if (!asleep) {
        // Flag first, then look again: a producer that read the old flag (and did not notify) is either
        // committed (the next claim sees its row) or still running (the fence waits for it). A READ
        // COMMITTED producer reads the flag in its outbox INSERT's trigger with a snapshot taken after
        // the INSERT took its transaction id; one that read "awake" did so before the flag's commit, so
        // its id is below any id taken after that commit. Once the oldest running transaction is past
        // that fence, each of them has ended and its row is claimable or gone. This does not hold for a
        // REPEATABLE READ or SERIALIZABLE producer, whose trigger reads with the transaction's first
        // snapshot (older than the flag's commit, while its id may come after the fence): the trigger
        // notifies for those always (outboxWakeIsolationSql, decision 0036 "Fixed later").
        await flushCheckpoint();
        await setSleeping(true);
        asleep = true;
        fence = await nextTransactionId(client);
        continue;
      }
      if (fence !== null && horizon.xmin < fence) {
        await wakeup.wait(idleStep);
        idleStep = Math.min(pollIntervalMs, idleStep * 2);
        continue;
      }
      progress({ kind: 'sleeping' });
      await wakeup.wait(pollIntervalMs);
      fence = null;
      idleStep = busyPollMs;
    }
    // Stopping: save where the relay got to, so the next leader does not publish that batch again.
    await ahead?.catch(() => undefined);
    await pruning;
    await flushCheckpoint();
  };

  const run = async (signal: AbortSignal): Promise<void> => {
    const unwatch = metrics?.watch(metricLabels, readBacklog);
    try {
      await options.startAfter?.(signal);
      while (!signal.aborted) {
        let client: pg.PoolClient;
        try {
          client = await options.pool.connect();
        } catch (error) {
          progress({ kind: 'error', error });
          await delay(lockPollMs, signal);
          continue;
        }
        let broken: unknown = null;
        const onError = (e: unknown) => (broken = e);
        client.on('error', onError);
        try {
          const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::int, hashtext($2)) as ok', [LOCK_CLASS, `brigade_outbox:${schema}`]);
          if (!rows[0]!.ok) {
            client.removeListener('error', onError);
            client.release();
            progress({ kind: 'standby' });
            await delay(lockPollMs, signal);
            continue;
          }
          // The lock lives as long as this session, which idles while the relay sleeps on LISTEN: probed,
          // the server ends it within about half a minute of this host vanishing (killed, asleep, cut
          // off), not the system's 2 h 11 min, and a standby takes over. A failure here destroys the
          // connection below, which ends the session and its lock.
          await probePeer(client);
        } catch (error) {
          client.release(true);
          progress({ kind: 'error', error });
          await delay(lockPollMs, signal);
          continue;
        }
        leading = true;
        metrics?.leader(metricLabels, true);
        progress({ kind: 'leader' });
        const session = new AbortController();
        try {
          await lead(client, signal, session.signal);
        } catch (error) {
          session.abort();
          // A row of another service's subject stops the relay as a refused publish does.
          if (broken === null && error instanceof OutboxSubjectRefusedError) metrics?.publishFailed(metricLabels);
          progress({ kind: 'error', error: broken ?? error });
          await delay(Math.min(lockPollMs, 1000), signal);
        } finally {
          session.abort();
          leading = false;
          metrics?.leader(metricLabels, false);
          // Destroyed, never pooled: ending the session releases the lock, the LISTEN and the role.
          client.release(true);
        }
      }
    } finally {
      unwatch?.();
    }
  };

  return { run, isLeader: () => leading };
}

function positive(value: number, field: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new ValidationError(`${field} must be a positive number`, { field });
  return value;
}
