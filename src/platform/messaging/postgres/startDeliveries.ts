import type pg from 'pg';
import { runWithoutFlushWait } from '../../db/index.ts';
import type { DeliveryLease } from './settleDelivery.ts';

/**
 * The statement of {@link startDeliveries} (exported for its plan's test): `$1` the delivery ids, `$2`
 * their leases, in the same order, `$3` the lease in ms. It counts the run that is about to start
 * (`attempt + 1`) and renews the lease from now, fenced by the lease token: a delivery whose lease ran
 * out while it waited in the worker's queue, and which another worker took over, is not in the result
 * and is not run here. The primary key is the way in whatever the batch's size, as for the acks
 * (`ACK_DELIVERIES_SQL`).
 */
export const START_DELIVERIES_SQL = `update brigade_bus.deliveries d
            set attempt = d.attempt + 1, run_at = now() + make_interval(secs => $3::double precision / 1000)
            from unnest($1::bigint[], $2::uuid[]) as s(id, lease)
            where d.id = any (array(select unnest($1::bigint[]))) and d.id = s.id and d.lease = s.lease
            returning d.id::text as id, d.attempt`;

/**
 * Starts runs of claimed deliveries (decision 0015, "Fixed later (forty-fourth session…)"): each
 * delivery's `attempt` counts its handler's runs, raised here, just before the run, not by the claim,
 * so a delivery claimed into a worker's queue and taken over by another worker once its lease ran out
 * costs no attempt. A worker that dies mid-run has still used up the attempt.
 *
 * One statement for the batch; its commit does not wait for the WAL flush (a start lost in a crash
 * leaves that run uncounted, as a lost claim did before). Returns the attempt number of each delivery
 * whose lease was still its own, by delivery id; the others must not be run.
 */
export async function startDeliveries(pool: pg.Pool, deliveries: readonly DeliveryLease[], leaseMs: number): Promise<Map<string, number>> {
  if (deliveries.length === 0) return new Map();
  const { rows } = await runWithoutFlushWait(pool, {
    text: START_DELIVERIES_SQL,
    values: [deliveries.map((d) => d.deliveryId), deliveries.map((d) => d.lease), leaseMs],
  });
  return new Map((rows as Array<{ id: string; attempt: number }>).map((r) => [r.id, r.attempt]));
}
