import client from 'prom-client';
import type pg from 'pg';
import { boundedRead } from '../../db/boundedRead.ts';
import { shareInFlight } from '../../runtime/shareInFlight.ts';
import { CLAIM_CHECK_GRACE_MS } from './purgeClaimChecks.ts';

/**
 * How long a scrape's read of the store may take, in the database and for the scrape (as the outbox
 * gauges' and `/health/ready`'s): past it the scrape goes on without the series.
 */
export const CLAIM_CHECK_READ_TIMEOUT_MS = 2000;

/** Options for {@link registerClaimCheckMetrics}. */
export interface ClaimCheckMetricsOptions {
  /** The grace the bus retention purges with (`runBusRetention`'s `claimCheckGraceMs`). Default {@link CLAIM_CHECK_GRACE_MS}. */
  readonly graceMs?: number;
}

/** The states a stored payload is counted in: every payload is in exactly one. */
const STATES = ['held', 'held_past_grace', 'released', 'expired'] as const;
type State = (typeof STATES)[number];

// One pass over the payloads (their rows only: the payload itself is TOASTed and not read), one probe of
// the references' index per payload, as the purge makes; a released reference holds nothing. "Past the grace" is the purge's own test.
const READ_SQL = `
select case when exists (select from brigade_bus.claim_check_refs r where r.sha256 = c.sha256 and r.released_at is null offset 0)
            then case when c.created_at < now() - make_interval(secs => $1::double precision / 1000) then 'held_past_grace' else 'held' end
            else case when c.created_at < now() - make_interval(secs => $1::double precision / 1000) then 'expired' else 'released' end
       end as state,
       count(*)::int as payloads, coalesce(sum(c.size_bytes), 0)::float8 as bytes
  from brigade_bus.claim_checks c
 group by 1`;

/**
 * Exports what the claim-check store holds, counted at scrape time (no timer), as
 * `brigade_claim_check_payloads{state}` and `brigade_claim_check_bytes{state}` (the payloads' JSON size).
 * Every stored payload is in one state:
 * - `held`: a subscription that matched at publish has yet to handle it;
 * - `held_past_grace`: held, and stored (or last released) longer than the grace ago: a backlog, a dead
 *   letter not yet redriven or dropped, or a reference nobody will release any more (its subscription's
 *   JetStream consumer was deleted, or the stream's max age dropped the message): an orphan;
 * - `released`: every subscription handled it; kept for the grace, for a redelivery after a lost ack;
 * - `expired`: released longer than the grace ago: the next purge (`runBusRetention`) deletes it. It stays
 *   near zero while the retention runs; a count that grows says the retention does not.
 * Each state is exported, with 0 when empty.
 *
 * The read is bounded ({@link boundedRead}, {@link CLAIM_CHECK_READ_TIMEOUT_MS}: a read stuck behind a
 * lock on the store ends in the database too, giving its connection back to the pool the API shares),
 * and both gauges of a scrape, and scrapes that overlap, share the read in flight: one connection
 * however many there are. A scrape whose read failed or ran out of time has no series of either gauge,
 * as the outbox gauges (before, they went on showing the last values as if current); it does not fail
 * the whole scrape.
 *
 * @example
 * registerClaimCheckMetrics(metrics, busPool); // beside registerDeadLetterMetrics
 */
export function registerClaimCheckMetrics(registry: client.Registry, pool: pg.Pool, options: ClaimCheckMetricsOptions = {}): void {
  const graceMs = options.graceMs ?? CLAIM_CHECK_GRACE_MS;
  // The two gauges of one scrape share one read (prom-client collects a registry's metrics together),
  // and so do scrapes that overlap.
  const read = shareInFlight(() =>
    boundedRead(pool, CLAIM_CHECK_READ_TIMEOUT_MS, (db) => db.query<{ state: State; payloads: number; bytes: number }>(READ_SQL, [graceMs])).then(
      ({ rows }) => new Map(rows.map((r) => [r.state, { payloads: r.payloads, bytes: r.bytes }])),
      () => null,
    ),
  );
  const gauge = (name: string, help: string, field: 'payloads' | 'bytes') =>
    new client.Gauge({
      name,
      help,
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        const byState = await read();
        if (byState === null) {
          this.reset();
          return;
        }
        for (const state of STATES) this.set({ state }, byState.get(state)?.[field] ?? 0);
      },
    });
  gauge('brigade_claim_check_payloads', 'Claim-checked payloads stored, by state: held, held_past_grace (an orphan or a long backlog), released, expired (purge due)', 'payloads');
  gauge('brigade_claim_check_bytes', 'Bytes of claim-checked payloads stored (their JSON), by state as brigade_claim_check_payloads', 'bytes');
}
