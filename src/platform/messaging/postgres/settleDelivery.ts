import type pg from 'pg';
import { runWithoutFlushWait } from '../../db/index.ts';
import { newMessageId } from '../newMessageId.ts';
import { LeaseLostError } from '../errors.ts';

/** Identifies one attempt: the delivery and the lease token its claim returned. */
export interface DeliveryLease {
  readonly deliveryId: string;
  readonly lease: string;
}

/** Acks an attempt: the delivery is done. Throws {@link LeaseLostError} when the lease is no longer its own. */
export async function ackDelivery(pool: pg.Pool, attempt: DeliveryLease): Promise<void> {
  const [lost] = await ackDeliveries(pool, [attempt]);
  if (lost !== undefined) throw new LeaseLostError(lost);
}

/**
 * The statement of {@link ackDeliveries} (exported for its plan's test): `$1` the delivery ids, `$2`
 * their leases, in the same order. The join pairs each id with its lease (and is what the row's
 * recheck tests when a takeover changed the lease meanwhile); `d.id = any (array(select unnest($1)))`
 * makes the primary key the way in whatever the batch's size. Without it the planner hashed a scan of
 * every delivery for a batch of 50 on a table of a few thousand rows (unanalysed, as the deliveries
 * table is while a burst fills it); `d.id = any($1)` alone still scanned, because the planner sees
 * that array's length, while an InitPlan's array it sizes at 10 elements.
 */
export const ACK_DELIVERIES_SQL = `delete from brigade_bus.deliveries d using unnest($1::bigint[], $2::uuid[]) as a(id, lease)
            where d.id = any (array(select unnest($1::bigint[]))) and d.id = a.id and d.lease = a.lease
            returning d.id::text as id`;

/**
 * Acks several attempts in one statement (one round trip, one commit that does not wait for the WAL
 * flush: see {@link runWithoutFlushWait}). Returns the delivery ids whose lease was no longer their
 * own (nothing was acked for those).
 */
export async function ackDeliveries(pool: pg.Pool, attempts: readonly DeliveryLease[]): Promise<string[]> {
  if (attempts.length === 0) return [];
  const deleted = await runWithoutFlushWait(pool, {
    text: ACK_DELIVERIES_SQL,
    values: [attempts.map((a) => a.deliveryId), attempts.map((a) => a.lease)],
  });
  const acked = new Set((deleted.rows as Array<{ id: string }>).map((r) => r.id));
  return attempts.filter((a) => !acked.has(a.deliveryId)).map((a) => a.deliveryId);
}

/**
 * Coalesces acks: the first ack waits for the end of the event loop's turn (setImmediate), so the
 * acks of every handler that finished in that turn leave together; an ack made while a batch is on
 * its way waits for it and leaves with every other ack made meanwhile. Each batch is one
 * {@link ackDeliveries}. Each ack still settles on its own: it rejects with {@link LeaseLostError}
 * when its lease was lost.
 */
export function createAckBatcher(pool: pg.Pool): (attempt: DeliveryLease) => Promise<void> {
  let pending: Array<{ attempt: DeliveryLease; resolve: () => void; reject: (e: unknown) => void }> = [];
  let flushing = false;
  // Called only with `flushing` already set (by the ack that scheduled it).
  const flush = async () => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        const lost = new Set(await ackDeliveries(pool, batch.map((p) => p.attempt)));
        for (const p of batch) {
          if (lost.has(p.attempt.deliveryId)) p.reject(new LeaseLostError(p.attempt.deliveryId));
          else p.resolve();
        }
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    flushing = false;
  };
  return (attempt) =>
    new Promise<void>((resolve, reject) => {
      if (pending.push({ attempt, resolve, reject }) === 1 && !flushing) {
        flushing = true;
        setImmediate(() => void flush());
      }
    });
}

/** Schedules a retry `delayMs` from now, keeping the error. Throws {@link LeaseLostError} like {@link ackDelivery}. */
export async function retryDelivery(pool: pg.Pool, attempt: DeliveryLease, delayMs: number, error: string): Promise<void> {
  const { rowCount } = await pool.query(
    `update brigade_bus.deliveries
     set run_at = now() + make_interval(secs => $3::double precision / 1000), lease = null, last_error = $4,
         first_failed_at = coalesce(first_failed_at, now())
     where id = $1 and lease = $2`,
    [attempt.deliveryId, attempt.lease, delayMs, error],
  );
  if (rowCount !== 1) throw new LeaseLostError(attempt.deliveryId);
}

/**
 * Gives a claimed but never started delivery back (a worker stopping with prefetched messages): due
 * now, and no run counted for it. `started`: its claim counted the run it was to start at once (see
 * `claimDeliveries`), which is taken back.
 */
export async function releaseDelivery(pool: pg.Pool, attempt: DeliveryLease & { readonly started?: boolean }): Promise<void> {
  await pool.query('update brigade_bus.deliveries set run_at = now(), lease = null, attempt = attempt - $3 where id = $1 and lease = $2', [
    attempt.deliveryId,
    attempt.lease,
    attempt.started === true ? 1 : 0,
  ]);
}

/** Extends the lease of a running attempt; `false` when it was lost already. */
export async function extendLease(pool: pg.Pool, attempt: DeliveryLease, leaseMs: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    'update brigade_bus.deliveries set run_at = now() + make_interval(secs => $3::double precision / 1000) where id = $1 and lease = $2',
    [attempt.deliveryId, attempt.lease, leaseMs],
  );
  return rowCount === 1;
}

// Moving the delivery to the dead letters is one statement: the DELETE checks the lease, and the
// INSERT only sees what the DELETE removed, so a message is parked at most once and never lost. A
// letter of the same message in that subscription already there (one per subscription and message: a
// relay's republish after the dedupe window of a parked message) is kept, and the delivery settled.
// $5 (exhausted): the claim found every attempt used up (the last run's worker never settled it: it
// died, or its dead letter could not be stored), and parks the message without running it. The attempts
// are the runs the delivery counted (the claim counts none), and the error the delivery kept from an
// earlier attempt (last_error: a handler's own exception, and when storing its dead letter failed, the
// last attempt's) goes ahead of the note.
const DEAD_LETTER_SQL = `
with gone as (
  delete from brigade_bus.deliveries where id = $1 and lease = $2
  returning subscription, message_id, attempt, last_error, coalesce(first_failed_at, now()) as first_failed_at
), parked as (
  insert into brigade_bus.dead_letters
    (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
  select $3, g.subscription, g.message_id, m.subject, m.key, m.headers, m.payload,
         case when $5::boolean then coalesce(g.last_error || E'\\n' || $4::text, $4::text) else $4::text end,
         g.attempt, g.first_failed_at, now(), 'postgres'
  from gone g join brigade_bus.messages m on m.id = g.message_id
  on conflict (subscription, message_id) do nothing
)
select count(*)::int as settled from gone`;

/**
 * Parks an attempt's message in the dead letters with its error. Throws {@link LeaseLostError} like {@link ackDelivery}.
 *
 * `exhausted`: the claim found the attempts used up (the workers of the runs were lost mid-handle, or
 * the last attempt's dead letter could not be stored) and did not run it: `error` is the note that says
 * so, written after the last error the delivery kept.
 */
export async function deadLetterDelivery(pool: pg.Pool, attempt: DeliveryLease, error: string, options: { readonly exhausted?: boolean } = {}): Promise<string> {
  const id = newMessageId();
  const { rows } = await pool.query<{ settled: number }>(DEAD_LETTER_SQL, [attempt.deliveryId, attempt.lease, id, error, options.exhausted === true]);
  if (rows[0]?.settled !== 1) throw new LeaseLostError(attempt.deliveryId);
  return id;
}

/**
 * Keeps a failed last attempt's error on its delivery when its dead letter could not be stored: the
 * lease is left to run out, and the claim that finds the attempts used up parks the message with this error
 * instead of only saying that the attempts ran out. Best effort: a database that refused the dead
 * letter may refuse this too (the letter then keeps the previous attempt's error).
 */
export async function keepLastError(pool: pg.Pool, attempt: DeliveryLease, error: string): Promise<void> {
  await pool.query('update brigade_bus.deliveries set last_error = $3, first_failed_at = coalesce(first_failed_at, now()) where id = $1 and lease = $2', [
    attempt.deliveryId,
    attempt.lease,
    error,
  ]);
}
