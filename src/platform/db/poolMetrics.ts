import client from 'prom-client';
import type { Databases } from './createDatabases.ts';
import type { ReplicaRouteReason } from './createReplicaReads.ts';

/**
 * Exports each pool's connections by state as `brigade_db_pool_connections{pool,state}` with
 * state `in_use`, `idle` or `waiting` (callers queued for a connection), plus the configured maximum.
 * Values are read at scrape time, so there is no timer to stop.
 */
export function registerPoolMetrics(registry: client.Registry, databases: Databases): void {
  new client.Gauge({
    name: 'brigade_db_pool_connections',
    help: 'Database pool connections by state (in_use, idle, waiting = callers queued for one)',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { label, pool } of databases.list()) {
        this.set({ pool: label, state: 'in_use' }, pool.totalCount - pool.idleCount);
        this.set({ pool: label, state: 'idle' }, pool.idleCount);
        this.set({ pool: label, state: 'waiting' }, pool.waitingCount);
      }
    },
  });
  new client.Gauge({
    name: 'brigade_db_pool_max',
    help: 'Largest number of connections a pool may open',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { label, pool } of databases.list()) this.set({ pool: label }, pool.options.max ?? 10);
    },
  });
}

/**
 * `brigade_db_replica_reads_total{target,reason}`: replica-eligible reads by where they ran (`replica`,
 * `primary`) and why (`fresh`, `own-write`, `lag`, `down`). Returns the `onRoute` callback of
 * `createReplicaReads`.
 */
export function replicaRouteMetrics(registry: client.Registry): (target: 'replica' | 'primary', reason: ReplicaRouteReason) => void {
  const counter = new client.Counter({
    name: 'brigade_db_replica_reads_total',
    help: 'Reads that may run on the read replica, by where they ran (replica, primary) and why (fresh, own-write, lag, down, busy)',
    labelNames: ['target', 'reason'] as const,
    registers: [registry],
  });
  return (target, reason) => counter.inc({ target, reason });
}
