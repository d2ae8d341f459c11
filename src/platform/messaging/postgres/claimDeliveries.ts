import type pg from 'pg';
import { runWithoutFlushWait } from '../../db/index.ts';
import type { MessageHeaders } from '../types.ts';

/** A claimed delivery: the message plus the lease that its ack or nack must present. */
export interface ClaimedDelivery {
  readonly deliveryId: string;
  /** Fencing token of this attempt. */
  readonly lease: string;
  readonly attempt: number;
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
// after it, any worker may take it over, and the new `lease` token fences the old attempt's ack out.
const CLAIM_SQL = `
with next as (
  select id from brigade_bus.deliveries
  where subscription = $1 and run_at <= now()
  order by run_at, id
  limit $2
  for update skip locked
)
update brigade_bus.deliveries d
set attempt = d.attempt + 1,
    run_at = now() + make_interval(secs => $3::double precision / 1000),
    lease = gen_random_uuid()
from next, brigade_bus.messages m
where d.id = next.id and m.id = d.message_id
returning d.id::text as delivery_id, d.lease::text as lease, d.attempt, d.first_failed_at,
          m.id::text as message_id, m.subject, m.key, m.headers, m.payload`;

/** Claims up to `limit` due deliveries of a subscription for `leaseMs`. */
export async function claimDeliveries(
  pool: pg.Pool,
  options: { readonly subscription: string; readonly limit: number; readonly leaseMs: number },
): Promise<ClaimedDelivery[]> {
  // The claim's commit does not wait for the WAL flush either: a claim lost in a crash leaves the
  // delivery due again (and its attempt uncounted), which redelivery allows.
  const { rows } = await runWithoutFlushWait(pool, { text: CLAIM_SQL, values: [options.subscription, options.limit, options.leaseMs] });
  return rows.map((r) => ({
    deliveryId: r.delivery_id as string,
    lease: r.lease as string,
    attempt: r.attempt as number,
    firstFailedAt: r.first_failed_at as Date | null,
    messageId: r.message_id as string,
    subject: r.subject as string,
    key: r.key as string,
    headers: r.headers as MessageHeaders,
    payload: r.payload as unknown,
  }));
}
