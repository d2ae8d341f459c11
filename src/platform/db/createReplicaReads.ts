import type pg from 'pg';
import { BrigadeError } from '../errors/index.ts';

/** Options of {@link createReplicaReads}. */
export interface ReplicaReadsOptions {
  /** The primary's pool: reads fall back to it, and its WAL position measures the standby. */
  readonly primary: pg.Pool;
  /** The hot standby's pool (`DATABASE_REPLICA_URL`). */
  readonly replica: pg.Pool;
  /**
   * Reads stay on the primary while the standby may be further behind than this, or while how far
   * behind it is cannot be told yet. Default 2000 ms.
   */
  readonly maxLagMs?: number;
  /** How long a reading of the two positions is trusted. Default 100 ms. */
  readonly statusTtlMs?: number;
  /** How long reading the two positions may take before the standby counts as down. Default 1000 ms. */
  readonly statusTimeoutMs?: number;
  /** After the standby failed (down, unreachable, not in recovery), how long reads use the primary. Default 5000 ms. */
  readonly cooldownMs?: number;
  /** Actors with writes not yet replayed that are tracked one by one; past it, one mark covers them all. Default 100,000. */
  readonly maxTrackedActors?: number;
  /** Called with each routing decision (for metrics). */
  readonly onRoute?: (target: 'replica' | 'primary', reason: ReplicaRouteReason) => void;
  /** Called when the standby cannot be used (unreachable, too slow, not in recovery), at most once per cooldown. */
  readonly onTrouble?: (error: unknown) => void;
}

/** Why a read went where it went. */
export type ReplicaRouteReason = 'fresh' | 'own-write' | 'lag' | 'down' | 'busy';

/** Routes reads between a primary and its hot standby, keeping each actor's own writes visible. */
export interface ReplicaReads {
  /**
   * Notes that `actor` committed a write on the primary (call it after the commit, or after a commit
   * whose outcome is unknown: a connection lost while committing). Free: the WAL position it must
   * wait for is read only when that actor next reads.
   */
  wrote(actor: string): void;
  /** The pool a replica-eligible read of `actor` should run on: the standby's when it is fresh enough for that actor. */
  poolFor(actor: string): Promise<pg.Pool>;
  /** Reports that the standby failed a read for its own sake: reads use the primary for a while. */
  failed(error: unknown): void;
  /** The primary's pool: only reads that would run on it are routed. */
  readonly primary: pg.Pool;
  /** The standby's pool. */
  readonly replica: pg.Pool;
}

/** One reading of both servers: the primary's position, and how far the standby has replayed. */
interface Status {
  /** `performance.now()` when the reading began: the primary's position is from after every write noted before it. */
  readonly startedAt: number;
  readonly primary: bigint;
  readonly replayed: bigint;
  /**
   * How old the standby's last replayed commit was, by the primary's clock when the primary was read
   * (`null`: none replayed since the standby started). The standby holds every commit up to it.
   */
  readonly replayAgeMs: number | null;
}

/** Which database a pool reaches, and on which cluster. */
interface Identity {
  readonly database: string;
  /** `pg_control_system()`'s system identifier; `null` where the role may not run it. */
  readonly system: string | null;
}

/** An actor's write: when it was noted, and the first primary position read after it. */
interface Written {
  readonly at: number;
  lsn: bigint | undefined;
}

// The insert position is past the commit record of every transaction that has committed (also those
// committed without waiting for the flush), so a standby that replayed it shows all of them.
const PRIMARY_SQL = `select (pg_current_wal_insert_lsn() - '0/0')::text as lsn, extract(epoch from clock_timestamp())::float8 * 1000 as now_ms`;
// The last replayed commit's time is the primary's clock (the commit record's): compared with the
// primary's clock_timestamp(), not the standby's, so the two hosts' clocks need not agree.
const STANDBY_SQL =
  `select pg_is_in_recovery() as recovery, (pg_last_wal_replay_lsn() - '0/0')::text as replayed, ` +
  `extract(epoch from pg_last_xact_replay_timestamp())::float8 * 1000 as commit_ms`;
/**
 * Which server a pool reaches, added to a reading's query on each side when it is checked: its
 * database, and its cluster's system identifier, which a physical standby shares with its primary (it
 * is a copy of its data directory) and no other cluster has. `pg_control_system()` may be run by any
 * role by default (PostgreSQL 15 to 18); where it was revoked, {@link DATABASE_COLUMNS} check the
 * database name alone. In the same query, not one beside it: a second query on a replica pool of one
 * connection would wait for it, and the reading would take the standby for busy.
 */
const IDENTITY_COLUMNS = `current_database() as database, (select system_identifier from pg_control_system())::text as system`;
const DATABASE_COLUMNS = `current_database() as database, null::text as system`;
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * 500 `REPLICA_NOT_STANDBY`: `DATABASE_REPLICA_URL` names a server that is not a hot standby of the
 * main database (not in recovery, a standby of another cluster, or another database). Reported to
 * `onTrouble`, never to a client: the reads it would have served run on the primary.
 */
export class ReplicaNotStandbyError extends BrigadeError {
  constructor(why: string) {
    super('REPLICA_NOT_STANDBY', 500, `DATABASE_REPLICA_URL names ${why}: reads stay on the primary. DATABASE_REPLICA_URL must name a hot standby of DATABASE_URL, on the same database`, {
      details: { variable: 'DATABASE_REPLICA_URL' },
    });
  }
}

/** A reading that timed out while every replica connection was taken. */
const BUSY = new Error('every connection to the read replica is in use');

/** A reading that failed on the primary's side (its pool's acquire timeout, say): no verdict on the standby. */
class PrimaryUnread extends Error {
  constructor(cause: unknown) {
    super("the primary's WAL position could not be read", { cause });
  }
}
/** Primary positions kept to measure the lag. */
const MAX_UNREPLAYED = 1000;
/** The key under which a full map's actors are folded into one mark that every read waits for. */
const EVERYONE = '\u0000everyone';

/**
 * Read-replica routing with read-your-writes (docs/decisions/0082). A read marked as able to run on
 * the standby goes there unless:
 * - the actor wrote something the standby has not replayed yet (`own-write`): the primary's WAL
 *   position read after the actor's write is compared with the standby's replay position;
 * - the standby is behind the primary's position and may be so by more than `maxLagMs` (`lag`): the
 *   latest reading whose position it has replayed, and its last replayed commit, are both older than
 *   that, or neither is known (a process's first reading of a standby that has replayed no commit
 *   since it started). This is measured from the primary, so a standby cut off from it (its WAL
 *   receiver stopped, its slot lost) counts as lagging, not as current;
 * - the standby failed lately, cannot be reached or answers too slowly, is not in recovery, or is not
 *   a standby of the primary's database (another cluster's, or another database: checked on the first
 *   reading and after each failure) (`down`, {@link ReplicaNotStandbyError} to `onTrouble`);
 * - every connection to the standby is in use and its answer did not come in time, or the primary's
 *   position could not be read (its pool full past its acquire timeout): `busy`, this read only.
 *
 * The two positions are read together (one query on each server), at most every `statusTtlMs`, and
 * only while replica-eligible reads come; writes cost nothing. The actors' writes are known to this
 * process only: a client whose requests reach several processes sees its writes on any of them once
 * the standby has replayed them.
 *
 * @example
 * const reads = createReplicaReads({ primary, replica });
 * await reads.poolFor('customer:0190…');   // the standby, unless that customer's write is not replayed yet
 */
export function createReplicaReads(options: ReplicaReadsOptions): ReplicaReads {
  const maxLagMs = options.maxLagMs ?? 2000;
  const statusTtlMs = options.statusTtlMs ?? 100;
  const statusTimeoutMs = options.statusTimeoutMs ?? 1000;
  const cooldownMs = options.cooldownMs ?? 5000;
  const maxTracked = options.maxTrackedActors ?? 100_000;
  const route = options.onRoute ?? (() => undefined);

  const written = new Map<string, Written>();
  /**
   * Primary positions of readings the standby had not replayed, oldest first, each with the latest
   * `performance.now()` it was the primary's position at: a standby that replays one holds every
   * commit up to then.
   */
  const unreplayed: Array<{ lsn: bigint; at: number }> = [];
  /**
   * `performance.now()` up to which the standby is known to hold every commit of the primary: the start
   * of the latest reading whose position it replayed, or the time of its last replayed commit. The
   * lag is at most the time since. `-Infinity`: not known, so the standby may be any distance behind.
   */
  let currentAt = -Infinity;
  let status: Status | null = null;
  let downUntil = 0;
  /** The last reading timed out with every replica connection taken: no verdict on the standby. */
  let busy = false;
  let troubleReported = -Infinity;
  /**
   * The standby was found to be a copy of the primary's database. Checked on the first reading and
   * again after any trouble: what comes back after an outage may be another server.
   */
  let verified = false;

  const trouble = (error: unknown) => {
    verified = false;
    downUntil = performance.now() + cooldownMs;
    if (performance.now() - troubleReported >= cooldownMs) {
      troubleReported = performance.now();
      options.onTrouble?.(error);
    }
  };

  /**
   * The one row of `select` on `pool`; with `identify`, also which database and cluster `pool` reaches
   * (the cluster `null` where the role may not run `pg_control_system()`).
   */
  const readRow = async <R extends pg.QueryResultRow>(pool: pg.Pool, select: string, identify: boolean): Promise<{ row: R; identity: Identity | null }> => {
    if (!identify) return { row: (await pool.query<R>(select)).rows[0]!, identity: null };
    let row: R & Identity;
    try {
      row = (await pool.query<R & Identity>(`${select}, ${IDENTITY_COLUMNS}`)).rows[0]!;
    } catch (error) {
      if ((error as { code?: unknown }).code !== INSUFFICIENT_PRIVILEGE) throw error;
      row = (await pool.query<R & Identity>(`${select}, ${DATABASE_COLUMNS}`)).rows[0]!;
    }
    return { row, identity: { database: row.database, system: row.system } };
  };

  /**
   * Both positions, and on the first reading (or the first after trouble) which server each pool
   * reaches. Only the standby's answer is timed: a busy primary pool delays the reading, not the
   * verdict, and a primary read that fails (its pool's acquire timeout at peak) rejects with
   * {@link PrimaryUnread}, which says nothing about the standby.
   */
  const readBoth = async (startedAt: number): Promise<Status> => {
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Every connection of the replica pool taken: the standby is busy, not gone.
        const saturated = options.replica.totalCount >= (options.replica.options.max ?? 10) && options.replica.waitingCount > 0;
        reject(saturated ? BUSY : new Error(`The read replica did not answer within ${statusTimeoutMs} ms: reads stay on the primary for now`));
      }, statusTimeoutMs);
    });
    const check = !verified;
    const standbyRead = readRow<{ recovery: boolean; replayed: string | null; commit_ms: number | null }>(options.replica, STANDBY_SQL, check);
    const primaryRead = readRow<{ lsn: string; now_ms: number }>(options.primary, PRIMARY_SQL, check).catch((error: unknown) => {
      throw new PrimaryUnread(error);
    });
    // Whichever is not awaited below must not become an unhandled rejection.
    standbyRead.catch(() => undefined);
    primaryRead.catch(() => undefined);
    try {
      const { row, identity: standbyIs } = await Promise.race([standbyRead, slow]);
      if (!row.recovery || row.replayed === null) throw new ReplicaNotStandbyError('a server that is not a standby in recovery');
      const { row: primary, identity: primaryIs } = await primaryRead;
      if (standbyIs !== null && primaryIs !== null) {
        // A standby of another cluster, or another database of this one's standby: its positions would
        // be compared with positions of another history, and its data is not the primary's.
        if (standbyIs.system !== null && primaryIs.system !== null && standbyIs.system !== primaryIs.system) {
          throw new ReplicaNotStandbyError(`a standby of another cluster (system identifier ${standbyIs.system}; DATABASE_URL's is ${primaryIs.system})`);
        }
        if (standbyIs.database !== primaryIs.database) {
          throw new ReplicaNotStandbyError(`database ${JSON.stringify(standbyIs.database)} where DATABASE_URL names ${JSON.stringify(primaryIs.database)}`);
        }
        verified = true;
      }
      // Read before or after the standby's: a commit replayed meanwhile can only make the age look negative.
      const replayAgeMs = row.commit_ms === null ? null : Math.max(0, primary.now_ms - row.commit_ms);
      return { startedAt, primary: BigInt(primary.lsn), replayed: BigInt(row.replayed), replayAgeMs };
    } finally {
      clearTimeout(timer);
    }
  };

  /** The reading on the wire, and the one that waits for it to end (it will begin after every caller so far). */
  let inFlight: { readonly startedAt: number; readonly promise: Promise<Status | null> } | null = null;
  let queued: Promise<Status | null> | null = null;
  const begin = (): Promise<Status | null> => {
    const startedAt = performance.now();
    busy = false;
    const promise = readBoth(startedAt)
      .then(
        (read) => {
          record(read);
          return read;
        },
        (error: unknown) => {
          // Busy, not down: every replica connection taken, or the primary's side of the reading failed
          // (a saturated primary pool must not send the standby's reads onto it as well).
          if (error === BUSY || error instanceof PrimaryUnread) busy = true;
          else trouble(error);
          return null;
        },
      )
      .finally(() => {
        if (inFlight?.promise === promise) inFlight = null;
      });
    inFlight = { startedAt, promise };
    return promise;
  };
  /** A reading that began after `after` (`performance.now()`): the one on the wire if it did, else the next. One at a time. */
  const readStatus = (after = -Infinity): Promise<Status | null> => {
    if (inFlight === null) return begin();
    if (inFlight.startedAt > after) return inFlight.promise;
    queued ??= inFlight.promise.then(() => {
      queued = null;
      return begin();
    });
    return queued;
  };

  const record = (read: Status) => {
    if (status === null || read.startedAt >= status.startedAt) status = read;
    if (read.replayed >= read.primary) {
      // All the primary had when the reading began: current as of then.
      unreplayed.length = 0;
      currentAt = Math.max(currentAt, read.startedAt);
    } else {
      // Behind. By how much is bounded only by what is known of earlier: a reading whose position it
      // has replayed since, or its last replayed commit. Neither (a first reading, or one after a quiet
      // spell that only knew it current long ago) leaves the lag unknown or long, never zero: this
      // reading's own time says how long ago the primary had that position, not how long ago the
      // standby stopped (it was taken for the lag and passed a standby hours behind as fresh).
      const last = unreplayed.at(-1);
      if (last !== undefined && read.primary === last.lsn) last.at = read.startedAt;
      else if (last === undefined || read.primary > last.lsn) {
        // Bounded: past the cap the newest entry takes the newer position but keeps its older time, which
        // can only overstate the lag (a standby stuck for a day, read all day, keeps a few entries).
        if (last !== undefined && unreplayed.length >= MAX_UNREPLAYED) unreplayed[unreplayed.length - 1] = { lsn: read.primary, at: last.at };
        else unreplayed.push({ lsn: read.primary, at: read.startedAt });
      }
      while (unreplayed.length > 0 && unreplayed[0]!.lsn <= read.replayed) currentAt = Math.max(currentAt, unreplayed.shift()!.at);
      // On an idle primary the last commit is old, but then a standby that replayed it is level with the
      // primary (the branch above), so an old commit only counts against a standby that is behind.
      if (read.replayAgeMs !== null) currentAt = Math.max(currentAt, read.startedAt - read.replayAgeMs);
    }
    for (const [actor, entry] of written) {
      // The reading's primary position is from after this write: what the standby must reach.
      if (entry.lsn === undefined && entry.at < read.startedAt) entry.lsn = read.primary;
      if (entry.lsn !== undefined && entry.lsn <= read.replayed) written.delete(actor);
    }
  };

  /** How far behind the standby may be: 0 when the latest reading found it level with the primary. */
  const lagMs = (now: number) => (status === null || status.replayed >= status.primary ? 0 : now - currentAt);

  const primary = (reason: ReplicaRouteReason) => {
    route('primary', reason);
    return options.primary;
  };

  return {
    primary: options.primary,
    replica: options.replica,
    wrote(actor) {
      if (!written.has(actor) && written.size >= maxTracked) {
        // Full: one mark, as late as the latest write, that every actor's read waits for.
        written.clear();
        written.set(EVERYONE, { at: performance.now(), lsn: undefined });
      }
      written.set(actor, { at: performance.now(), lsn: undefined });
    },
    async poolFor(actor) {
      if (performance.now() < downUntil) return primary('down');
      // The latest write this read must see: the actor's own, or the mark of a full map.
      const own = [written.get(actor), written.get(EVERYONE)].filter((w): w is Written => w !== undefined);
      const since = Math.max(-Infinity, ...own.map((w) => w.at));
      let seen = status !== null && performance.now() - status.startedAt < statusTtlMs && status.startedAt > since ? status : await readStatus(since);
      if (seen === null) return primary(busy ? 'busy' : 'down');
      // The entries held here, not the map's: a write of the same actor during the reading replaces its
      // entry, and a full map is cleared, so `record` may not have reached them. Each reading begun after
      // a write gives its position; one whose position is still unknown is waited for, never skipped.
      const needed = (s: Status) => {
        for (const w of own) if (w.lsn === undefined && w.at < s.startedAt) w.lsn = s.primary;
        return own.some((w) => w.lsn === undefined || w.lsn > s.replayed);
      };
      // Behind the actor's write: read both once more, at once, before giving up on the standby.
      if (needed(seen)) seen = (await readStatus(seen.startedAt)) ?? seen;
      if (performance.now() < downUntil) return primary('down');
      if (needed(seen)) return primary('own-write');
      if (lagMs(performance.now()) > maxLagMs) return primary('lag');
      route('replica', 'fresh');
      return options.replica;
    },
    failed(error) {
      trouble(error);
    },
  };
}
