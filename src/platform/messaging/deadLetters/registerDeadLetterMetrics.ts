import client from 'prom-client';
import type pg from 'pg';
import { boundedRead } from '../../db/boundedRead.ts';
import { shareInFlight } from '../../runtime/shareInFlight.ts';

/**
 * How long a scrape's read of the depths may take, in the database and for the scrape (as the outbox
 * gauges' and `/health/ready`'s): past it the scrape goes on without the series.
 */
export const DEAD_LETTER_READ_TIMEOUT_MS = 2000;

/**
 * The depth of every known subscription (in the registry of either transport) and of any other that
 * has dead letters: a full join, so a subscription without letters reads 0.
 */
const DEPTH_SQL = `select coalesce(s.name, d.subscription) as subscription, coalesce(d.n, 0) as n
  from brigade_bus.subscriptions s
  full join (select subscription, count(*)::int as n from brigade_bus.dead_letters group by subscription) d on d.subscription = s.name`;

/**
 * Exports the dead-letter depth as `brigade_dlq_depth{subscription}`, counted at scrape time (no timer).
 * Every known subscription has a series, 0 when it has no letter, and one that had letters keeps its
 * series at 0 once they are gone, even if it left the registry (for the life of the process): before,
 * a subscription's series vanished when its last letter was dropped or redriven, and an alert or graph
 * on it saw "no data" rather than 0.
 *
 * The read is bounded ({@link boundedRead}, {@link DEAD_LETTER_READ_TIMEOUT_MS}: a read stuck behind a
 * lock on the dead letters ends in the database too, giving its connection back to the pool the API
 * shares), and scrapes that overlap share the read in flight, so they hold one connection however many
 * there are. A scrape whose read failed or ran out of time has no `brigade_dlq_depth` series, as the
 * outbox gauges (before, it went on showing the last counts as if current); it does not fail the whole
 * scrape.
 */
export function registerDeadLetterMetrics(registry: client.Registry, pool: pg.Pool): void {
  const reported = new Set<string>();
  const read = shareInFlight(() =>
    boundedRead(pool, DEAD_LETTER_READ_TIMEOUT_MS, (db) => db.query<{ subscription: string; n: number }>(DEPTH_SQL)).then(
      ({ rows }) => rows,
      () => null,
    ),
  );
  new client.Gauge({
    name: 'brigade_dlq_depth',
    help: 'Messages parked in the dead-letter store, by subscription (0 for a known subscription without any)',
    labelNames: ['subscription'] as const,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      if (rows === null) return;
      const now = new Map(rows.map((r) => [r.subscription, r.n]));
      for (const subscription of reported) if (!now.has(subscription)) now.set(subscription, 0);
      for (const [subscription, n] of now) {
        this.set({ subscription }, n);
        reported.add(subscription);
      }
    },
  });
}
