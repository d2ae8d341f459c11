import client from 'prom-client';
import type pg from 'pg';

/**
 * Exports the dead-letter depth as `brigade_dlq_depth{subscription}`, counted at scrape time (no timer).
 * A scrape that cannot reach the database leaves the last values and does not fail the whole scrape.
 */
export function registerDeadLetterMetrics(registry: client.Registry, pool: pg.Pool): void {
  new client.Gauge({
    name: 'brigade_dlq_depth',
    help: 'Messages parked in the dead-letter store, by subscription',
    labelNames: ['subscription'] as const,
    registers: [registry],
    async collect() {
      const result = await pool.query('select subscription, count(*)::int as n from brigade_bus.dead_letters group by subscription').catch(() => null);
      if (result === null) return;
      this.reset();
      for (const r of result.rows) this.set({ subscription: r.subscription as string }, r.n as number);
    },
  });
}
