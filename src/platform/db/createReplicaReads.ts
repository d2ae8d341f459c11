import type pg from 'pg';

/** Options of {@link createReplicaReads}. */
export interface ReplicaReadsOptions {
  /** The primary's pool: reads fall back to it, and its WAL position marks an actor's writes. */
  readonly primary: pg.Pool;
  /** The hot standby's pool (`DATABASE_REPLICA_URL`). */
  readonly replica: pg.Pool;
  /** Reads stay on the primary while the standby's replay is further behind than this. Default 2000 ms. */
  readonly maxLagMs?: number;
  /** How long a reading of the standby's replay position is trusted. Default 100 ms. */
  readonly statusTtlMs?: number;
  /** After a failed read on the standby (down, a recovery conflict), how long reads use the primary. Default 5000 ms. */
  readonly cooldownMs?: number;
  /** Actors with writes not yet replayed that are tracked one by one; past it, one high-water mark covers the rest. Default 100,000. */
  readonly maxTrackedActors?: number;
  /** Called with each routing decision (for metrics). */
  readonly onRoute?: (target: 'replica' | 'primary', reason: ReplicaRouteReason) => void;
  /** Called when the standby cannot be used (unreachable, not in recovery), at most once per cooldown. */
  readonly onTrouble?: (error: unknown) => void;
}

/** Why a read went where it went. */
export type ReplicaRouteReason = 'fresh' | 'own-write' | 'lag' | 'down';

/** Routes reads between a primary and its hot standby, keeping each actor's own writes visible. */
export interface ReplicaReads {
  /**
   * Notes that `actor` committed a write on the primary. Until the standby has replayed it, that
   * actor's reads go to the primary. Call it after the commit; it costs one read of the primary's WAL
   * position, shared by all writes that end while one is in flight.
   */
  wrote(actor: string): void;
  /** The pool a replica-eligible read of `actor` should run on: the standby's when it is fresh enough for that actor. */
  poolFor(actor: string): Promise<pg.Pool>;
  /** Reports a read on the standby that failed for the standby's sake: reads use the primary for a while. */
  failed(error: unknown): void;
  /** The primary's pool: only reads that would run on it are routed. */
  readonly primary: pg.Pool;
  /** The standby's pool. */
  readonly replica: pg.Pool;
}

interface Written {
  lsn: bigint | undefined;
  readonly ready: Promise<bigint | null>;
}

interface Status {
  /** Replayed WAL position, or null when the server is not a standby. */
  readonly replayed: bigint | null;
  readonly lagMs: number;
  readonly at: number;
}

const STATUS_SQL =
  `select pg_is_in_recovery() as recovery, (pg_last_wal_replay_lsn() - '0/0')::text as replayed, ` +
  // Behind only while received WAL waits to be replayed; an idle primary sends none, so no lag then.
  `case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0 ` +
  `else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000, 0) end::float8 as lag_ms`;
// The insert position is past the commit record of every transaction that has committed (also those
// committed without waiting for the flush), so a standby that replayed it shows all of them.
const PRIMARY_SQL = `select (pg_current_wal_insert_lsn() - '0/0')::text as lsn`;

/**
 * Read-replica routing with read-your-writes (docs/decisions/0082). A read marked as able to run on
 * the standby goes there unless:
 * - the actor wrote something the standby has not replayed yet (`own-write`): the WAL position read
 *   on the primary after the actor's commit is compared with the standby's replay position, read
 *   again at most every `statusTtlMs` (and once more, at once, before giving up on the standby);
 * - the standby's replay lags by more than `maxLagMs` (`lag`);
 * - the standby failed a read lately, cannot be reached, or is not in recovery (`down`).
 *
 * The actors' positions live in this process: a client whose requests reach several processes sees
 * its writes on any of them only once the standby has replayed them (or if it keeps to one process).
 *
 * @example
 * const reads = createReplicaReads({ primary, replica });
 * await reads.poolFor('customer:0190…');   // the standby, unless that customer's write is not replayed yet
 */
export function createReplicaReads(options: ReplicaReadsOptions): ReplicaReads {
  const maxLagMs = options.maxLagMs ?? 2000;
  const statusTtlMs = options.statusTtlMs ?? 100;
  const cooldownMs = options.cooldownMs ?? 5000;
  const maxTracked = options.maxTrackedActors ?? 100_000;
  const route = options.onRoute ?? (() => undefined);

  /** Per actor, the primary's position after its latest write; `lsn` is set once it has been read. */
  const written = new Map<string, Written>();
  /** Covers the actors dropped when the map was full: every read waits for it. */
  let highWater: Promise<bigint> = Promise.resolve(0n);
  let downUntil = 0;
  let status: Status | null = null;
  let statusRead: Promise<Status | null> | null = null;
  let troubleReported = 0;

  const trouble = (error: unknown) => {
    downUntil = Date.now() + cooldownMs;
    if (Date.now() - troubleReported >= cooldownMs) {
      troubleReported = Date.now();
      options.onTrouble?.(error);
    }
  };

  // One read of the primary's position at a time; a write that ends while one is in flight waits for
  // the next, which starts after that write's commit.
  let sampling: Promise<bigint | null> | null = null;
  let next: Promise<bigint | null> | null = null;
  const readPrimary = async (): Promise<bigint | null> => {
    try {
      const { rows } = await options.primary.query<{ lsn: string }>(PRIMARY_SQL);
      return BigInt(rows[0]!.lsn);
    } catch {
      // Unknown: the actor's reads stay on the primary until its next write is sampled.
      return null;
    }
  };
  const samplePrimary = (): Promise<bigint | null> => {
    if (sampling === null) {
      sampling = readPrimary().finally(() => {
        sampling = null;
      });
      return sampling;
    }
    next ??= sampling.then(() => {
      next = null;
      return samplePrimary();
    });
    return next;
  };

  const readStatus = (): Promise<Status | null> => {
    statusRead ??= options.replica
      .query<{ recovery: boolean; replayed: string | null; lag_ms: number }>(STATUS_SQL)
      .then(
        ({ rows }) => {
          const row = rows[0]!;
          status = { replayed: row.recovery && row.replayed !== null ? BigInt(row.replayed) : null, lagMs: row.lag_ms, at: Date.now() };
          if (status.replayed === null) trouble(new Error('DATABASE_REPLICA_URL names a server that is not a standby in recovery: reads stay on the primary. Point it at a hot standby of DATABASE_URL'));
          else forgetReplayed(status.replayed);
          return status;
        },
        (error: unknown) => {
          trouble(error);
          return null;
        },
      )
      .finally(() => {
        statusRead = null;
      });
    return statusRead;
  };

  const forgetReplayed = (replayed: bigint) => {
    for (const [actor, entry] of written) if (entry.lsn !== undefined && entry.lsn <= replayed) written.delete(actor);
  };

  const track = (actor: string): Written => {
    const entry: Written = { lsn: undefined, ready: samplePrimary() };
    void entry.ready.then((lsn) => {
      if (lsn !== null) entry.lsn = lsn;
    });
    written.set(actor, entry);
    return entry;
  };

  const currentStatus = async (): Promise<Status | null> => {
    if (status !== null && Date.now() - status.at < statusTtlMs) return status;
    return readStatus();
  };

  const primary = (reason: ReplicaRouteReason) => {
    route('primary', reason);
    return options.primary;
  };

  return {
    primary: options.primary,
    replica: options.replica,
    wrote(actor) {
      if (!written.has(actor) && written.size >= maxTracked) {
        // Full: fold every tracked actor into one high-water mark (read after all their commits).
        written.clear();
        highWater = Promise.all([highWater, samplePrimary()]).then(([before, lsn]) => {
          if (lsn === null) {
            // Unknown: those actors' writes could be anywhere, so every read uses the primary for a while.
            downUntil = Date.now() + cooldownMs;
            return before;
          }
          return lsn > before ? lsn : before;
        });
      }
      track(actor);
    },
    async poolFor(actor) {
      const floor = await highWater;
      if (Date.now() < downUntil) return primary('down');
      const mine = written.get(actor);
      let needed = mine === undefined ? floor : await mine.ready;
      // The position could not be read after the write: read it now, which is after the write too.
      if (needed === null) needed = await track(actor).ready;
      if (needed === null) return primary('own-write');
      if (needed < floor) needed = floor;
      let seen = await currentStatus();
      if (seen !== null && seen.replayed !== null && seen.replayed < needed) seen = await readStatus();
      if (seen === null || seen.replayed === null) return primary('down');
      if (seen.replayed < needed) return primary('own-write');
      if (seen.lagMs > maxLagMs) return primary('lag');
      route('replica', 'fresh');
      return options.replica;
    },
    failed(error) {
      trouble(error);
    },
  };
}
