import pg from 'pg';
import { unitOfWork } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
import { checkpointTable, projectionKey } from './defineProjection.ts';
import type { HorizonHolder } from './errors.ts';
import { readOldestTransaction } from './readOldestTransaction.ts';
import { readCheckpoint } from './readCheckpoint.ts';
import type { Projection } from './types.ts';

/** One projection's state, for `brigade projections status` and dashboards. */
export interface ProjectionState {
  readonly name: string;
  readonly table: string;
  readonly checkpoint: GlobalPosition;
  /**
   * Events the projection has applied since its checkpoint row was made: a rebuild keeps the count and
   * adds the events it applied past the live checkpoint (those of the types the projection handles).
   */
  readonly eventsApplied: number;
  /** Events committed after the checkpoint, whether a batch could read them yet or not. */
  readonly lagEvents: number;
  /**
   * Age of the oldest event not yet applied, in seconds: the database server's clock now less its
   * `recorded_at` (also the server's), so a caller whose clock is off reads the same; 0 at the head.
   */
  readonly lagSeconds: number;
  /**
   * Of {@link lagEvents}, those no batch can read yet: committed by transactions at or after the
   * oldest one still running, below which a read of the log stops (decision 0011).
   */
  readonly heldEvents: number;
  /**
   * While {@link heldEvents} is not 0: the session whose open transaction holds them back (the oldest
   * running transaction with an id, in any database of the cluster), or null when it ended meanwhile.
   */
  readonly heldBy: HorizonHolder | null;
  /** Backend pid of the session holding the leader lock, or null when no instance leads. */
  readonly leaderPid: number | null;
  /** When the checkpoint last moved, or null when it never did. */
  readonly updatedAt: Date | null;
}

/**
 * Reads each projection's checkpoint, lag (the events committed after it and the age of the oldest),
 * what of it an open transaction holds back and which one, and whether an instance holds its leader
 * lock (from pg_locks). Reads as actor `admin` of the service role.
 */
export async function projectionStatus(pool: pg.Pool, projections: readonly Projection[]): Promise<ProjectionState[]> {
  const out: ProjectionState[] = [];
  for (const projection of projections) {
    out.push(
      await unitOfWork(pool, { service: projection.service, actor: { kind: 'admin', id: 'projections-status' }, readOnly: true }, async (tx) => {
        const checkpoint = await readCheckpoint(tx, projection);
        const meta = await tx.query<{ events_applied: string; updated_at: Date }>(
          `select events_applied::text, updated_at from ${checkpointTable(projection)} where name = $1`,
          [projection.name],
        );
        // Every committed event after the checkpoint, and those of them a batch cannot read yet (at or
        // past the oldest running transaction): the projector is behind by all of them.
        // The age on the server's clock, which wrote `recorded_at`: this host's may be minutes off.
        const lag = await tx.query<{ n: string; held: string; seconds: number | null }>(
          `select count(*)::text as n, (count(*) filter (where transaction_id >= pg_snapshot_xmin(pg_current_snapshot())))::text as held,
                  greatest(0, extract(epoch from clock_timestamp() - min(recorded_at)))::float8 as seconds
             from ${pg.escapeIdentifier(projection.schema)}.events
            where (transaction_id, global_position) > ($1::xid8, $2::bigint)`,
          [checkpoint.transactionId.toString(), checkpoint.position.toString()],
        );
        const heldEvents = Number(lag.rows[0]?.held ?? 0);
        const leader = await tx.query<{ pid: number }>(
          `select pid from pg_locks
            where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
              and classid = hashtext('brigade.projection')::oid and objid = hashtext($1)::oid and objsubid = 2`,
          [projectionKey(projection)],
        );
        return {
          name: projection.name,
          table: `${projection.schema}.${projection.table}`,
          checkpoint,
          eventsApplied: Number(meta.rows[0]?.events_applied ?? 0),
          lagEvents: Number(lag.rows[0]?.n ?? 0),
          lagSeconds: lag.rows[0]?.seconds ?? 0,
          heldEvents,
          heldBy: heldEvents === 0 ? null : await readOldestTransaction(tx),
          leaderPid: leader.rows[0]?.pid ?? null,
          updatedAt: meta.rows[0]?.updated_at ?? null,
        };
      }),
    );
  }
  return out;
}
