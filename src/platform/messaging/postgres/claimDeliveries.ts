import type pg from 'pg';
import { runWithoutFlushWait } from '../../db/index.ts';
import type { MessageHeaders } from '../types.ts';

/** A claimed delivery: the message plus the lease that its ack or nack must present. */
export interface ClaimedDelivery {
  readonly deliveryId: string;
  /** Fencing token of this claim: its start, heartbeats, ack, retry or dead letter present it. */
  readonly lease: string;
  /**
   * The handler's runs (decision 0015, "Fixed later (forty-fourth session…)"). When {@link started},
   * the run the claim counted, which is this attempt's number; otherwise the runs before the claim,
   * and `startDeliveries` counts the run when it starts and gives its number.
   */
  readonly attempt: number;
  /** The claim counted a run of it (one of its first `startNow`): the worker runs it at once. */
  readonly started: boolean;
  readonly firstFailedAt: Date | null;
  readonly messageId: string;
  readonly subject: string;
  readonly key: string;
  readonly headers: MessageHeaders;
  readonly payload: unknown;
}

// One statement claims a batch (graphile-worker getJobs, pg-boss fetchNextJob): the CTE picks the
// oldest due rows of the subscription and skips rows another worker is claiming right now (SKIP LOCKED),
// the UPDATE takes them. The lease is `run_at` moved to now() + lease: until then no claim sees the row;
// after it, any worker may take it over, and the new `lease` token fences the old claim's ack out.
// Attempts count the handler's runs, not claims: a delivery may wait in the worker's queue and be taken
// over by another worker unrun. The claim counts a run only for its first $4 rows (the oldest), which the
// worker starts at once, in the same turn (their leases cannot run out in between), and not for a row
// whose $5 attempts are used up (the worker parks it). The rest go to the queue and are counted when
// they start (startDeliveries): one statement fewer on the path from publish to handler while the
// worker keeps up (measured in decision 0015, "Fixed later (forty-fourth session…)").
const CLAIM_SQL = `
with next as (
  select id, run_at, attempt from brigade_bus.deliveries
  where subscription = $1 and run_at <= now()
  order by run_at, id
  limit $2
  for update skip locked
), ranked as (
  select id, row_number() over (order by run_at, id) <= $4 and attempt < $5 as started from next
)
update brigade_bus.deliveries d
set attempt = d.attempt + ranked.started::int,
    run_at = now() + make_interval(secs => $3::double precision / 1000),
    lease = gen_random_uuid()
from ranked, brigade_bus.messages m
where d.id = ranked.id and m.id = d.message_id
returning d.id::text as delivery_id, d.lease::text as lease, d.attempt, ranked.started, d.first_failed_at,
          m.id::text as message_id, m.subject, m.key, m.headers, m.payload`;

/** What {@link claimDeliveries} takes. */
export interface ClaimOptions {
  readonly subscription: string;
  readonly limit: number;
  readonly leaseMs: number;
  /** How many of the claimed deliveries (the oldest) the worker starts at once: their runs are counted by the claim. Default 0. */
  readonly startNow?: number;
  /** The subscription's attempts: a delivery that has used them all up is not counted (it is parked, not run). Required with `startNow`. */
  readonly maxAttempts?: number;
}

/** Claims up to `limit` due deliveries of a subscription for `leaseMs`, counting a run of the first `startNow`. */
export async function claimDeliveries(pool: pg.Pool, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  // The claim's commit does not wait for the WAL flush either: a claim lost in a crash leaves the
  // delivery due again (and a run it counted uncounted), which redelivery allows.
  const values = [options.subscription, options.limit, options.leaseMs, options.startNow ?? 0, options.maxAttempts ?? 0];
  const { rows } = await runWithoutFlushWait(pool, { text: CLAIM_SQL, values });
  return rows.map((r) => ({
    deliveryId: r.delivery_id as string,
    lease: r.lease as string,
    attempt: r.attempt as number,
    started: r.started as boolean,
    firstFailedAt: r.first_failed_at as Date | null,
    messageId: r.message_id as string,
    subject: r.subject as string,
    key: r.key as string,
    headers: r.headers as MessageHeaders,
    payload: r.payload as unknown,
  }));
}
