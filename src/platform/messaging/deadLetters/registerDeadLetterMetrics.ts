import client from 'prom-client';
import type pg from 'pg';

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
 * series at 0 once they are gone, even if it left the registry: before, the gauge was reset on each
 * scrape, so a subscription's series vanished when its last letter was dropped or redriven, and an
 * alert or graph on it saw "no data" rather than 0.
 * A scrape that cannot reach the database leaves the last values and does not fail the whole scrape.
 */
export function registerDeadLetterMetrics(registry: client.Registry, pool: pg.Pool): void {
  const reported = new Set<string>();
  new client.Gauge({
    name: 'brigade_dlq_depth',
    help: 'Messages parked in the dead-letter store, by subscription (0 for a known subscription without any)',
    labelNames: ['subscription'] as const,
    registers: [registry],
    async collect() {
      const result = await pool.query<{ subscription: string; n: number }>(DEPTH_SQL).catch(() => null);
      if (result === null) return;
      const now = new Map(result.rows.map((r) => [r.subscription, r.n]));
      for (const subscription of reported) if (!now.has(subscription)) now.set(subscription, 0);
      for (const [subscription, n] of now) {
        this.set({ subscription }, n);
        reported.add(subscription);
      }
    },
  });
}
