import client from 'prom-client';
import { shareInFlight } from '../runtime/shareInFlight.ts';
import { withDeadline } from '../runtime/withDeadline.ts';
import { OUTBOX_DEPTH_CAP } from './readOutboxBacklog.ts';

/** Reads an outbox's backlog at scrape time. */
export type BacklogReader = () => Promise<{ readonly depth: number; readonly oldestAgeSeconds: number }>;

/** A read of one registry's outboxes serves the other gauge's collect if it ended no longer ago than this. */
const SHARED_READ_MS = 1000;

/**
 * How long one outbox's backlog read may take (as `/health/ready`'s checks): a scrape goes on without
 * the series of a database that has not answered by then, instead of waiting for it with every other.
 */
export const BACKLOG_READ_TIMEOUT_MS = 2000;

/** The backlog, or `null` when the read failed or did not answer within {@link BACKLOG_READ_TIMEOUT_MS}. */
function readWithin(read: BacklogReader): Promise<Awaited<ReturnType<BacklogReader>> | null> {
  return withDeadline(read(), BACKLOG_READ_TIMEOUT_MS).catch(() => null);
}

/**
 * Which relay a series is of: `outbox` (the schema) and, for a relay of a dedicated database (decision
 * 0008), `database` (its pool's label, e.g. `db-1a2b3c4d`). The shared database's relay has no `database`
 * label, so its series are exactly those of before per-database relays (`{outbox="ordering"}`).
 */
export interface OutboxLabels {
  readonly outbox: string;
  readonly database?: string;
}

/** The relay's instruments, labelled by outbox (schema) and, beyond the shared database, database. */
export interface OutboxMetrics {
  /** Counts published messages and observes commit-to-ack latency. */
  published(labels: OutboxLabels, count: number, latenciesSeconds: readonly number[]): void;
  /** Counts a publish that failed (the relay backs off and tries the same rows again). */
  publishFailed(labels: OutboxLabels): void;
  /** 1 while this process's relay of `labels` is the leader. */
  leader(labels: OutboxLabels, isLeader: boolean): void;
  /**
   * Adds an outbox whose depth and oldest age are read at scrape time; returns its removal. One reader
   * per outbox and database: a second `watch` of the same labels replaces the first.
   */
  watch(labels: OutboxLabels, read: BacklogReader): () => void;
}

/** The labels as prom-client takes them: no `database` key for the shared database. */
function seriesOf(labels: OutboxLabels): { outbox: string; database?: string } {
  return labels.database === undefined ? { outbox: labels.outbox } : { outbox: labels.outbox, database: labels.database };
}

/** One read of a registry's outboxes, and the gauges it has served. */
interface SharedRead<T> {
  readonly result: Promise<T>;
  readonly servedTo: Set<'depth' | 'age'>;
  /** When the read ended (`Date.now()`); `null` while it runs. */
  endedAt: number | null;
}

/** A watched outbox: its labels and its read (shared while in flight, see {@link outboxMetrics}), keyed by outbox and database. */
interface Watched {
  readonly labels: OutboxLabels;
  readonly read: () => Promise<Awaited<ReturnType<BacklogReader>> | null>;
}

const sources = new WeakMap<client.Registry, Map<string, Watched>>();

/** The key of a watched outbox: one per outbox and database. */
const keyOf = (labels: OutboxLabels) => JSON.stringify([labels.outbox, labels.database ?? null]);

/**
 * Registers (once per registry) `brigade_outbox_depth`, `brigade_outbox_oldest_age_seconds` (both read
 * from the database at scrape time, one read per scrape serving both; the depth saturates at
 * {@link OUTBOX_DEPTH_CAP}; scrapes that overlap share each outbox's read in flight, so however many
 * there are, one read of an outbox holds one connection; an outbox whose read fails or takes over
 * {@link BACKLOG_READ_TIMEOUT_MS} has no series in that scrape), `brigade_outbox_published_total` (rows the checkpoint passed: a row the
 * broker acked after a failed one is counted when it goes out again), `brigade_outbox_publish_latency_seconds`
 * (row creation — the producing transaction's start — to the broker's ack), `brigade_outbox_publish_failures_total`
 * (publishes that failed, each retried: an outage, or a row the broker refuses, which stalls the relay
 * until it is gone; a count that keeps rising while `brigade_outbox_published_total` does not is a stalled
 * relay) and `brigade_outbox_relay_leader`, each labelled `outbox` and, for a dedicated database's relay,
 * `database` ({@link OutboxLabels}).
 */
export function outboxMetrics(registry: client.Registry): OutboxMetrics {
  let readers = sources.get(registry);
  if (readers === undefined) {
    const map = new Map<string, Watched>();
    readers = map;
    sources.set(registry, map);
    // Each outbox read on its own: a failed or hung database (a dedicated one, say) loses only its own series.
    const readAll = async () => Promise.all([...map.values()].map(async ({ labels, read }) => ({ labels: seriesOf(labels), ...(await read()) })));
    // Both gauges come from one read per scrape: the first gauge collected starts it, the other takes
    // the same result (prom-client collects a registry's metrics concurrently). A gauge collected again
    // starts a new read, as does one whose partner's read ended more than SHARED_READ_MS ago.
    let shared: SharedRead<Awaited<ReturnType<typeof readAll>>> | null = null;
    const backlog = (gauge: 'depth' | 'age') => {
      let read = shared;
      if (read === null || read.servedTo.has(gauge) || (read.endedAt !== null && Date.now() - read.endedAt > SHARED_READ_MS)) {
        const started: SharedRead<Awaited<ReturnType<typeof readAll>>> = { result: readAll(), servedTo: new Set(), endedAt: null };
        void started.result.then(() => (started.endedAt = Date.now()));
        read = shared = started;
      }
      read.servedTo.add(gauge);
      return read.result;
    };
    new client.Gauge({
      name: 'brigade_outbox_depth',
      help: `Outbox rows not yet published (counted up to ${OUTBOX_DEPTH_CAP}: the gauge saturates there)`,
      labelNames: ['outbox', 'database'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const b of await backlog('depth')) if (b.depth !== undefined) this.set(b.labels, b.depth);
      },
    });
    new client.Gauge({
      name: 'brigade_outbox_oldest_age_seconds',
      help: 'Age of the oldest unpublished outbox row: the next in the relay\'s order (0 when empty)',
      labelNames: ['outbox', 'database'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const b of await backlog('age')) if (b.oldestAgeSeconds !== undefined) this.set(b.labels, b.oldestAgeSeconds);
      },
    });
    new client.Counter({ name: 'brigade_outbox_published_total', help: 'Messages the relay published (broker acked)', labelNames: ['outbox', 'database'] as const, registers: [registry] });
    new client.Counter({
      name: 'brigade_outbox_publish_failures_total',
      help: 'Publishes of the relay that failed and are retried (broker down, or a row it refuses: rising while published_total does not, the relay is stalled)',
      labelNames: ['outbox', 'database'] as const,
      registers: [registry],
    });
    new client.Histogram({
      name: 'brigade_outbox_publish_latency_seconds',
      help: 'From the producing transaction to the broker ack of its message',
      labelNames: ['outbox', 'database'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    new client.Gauge({ name: 'brigade_outbox_relay_leader', help: '1 while this process relays the outbox', labelNames: ['outbox', 'database'] as const, registers: [registry] });
  }
  const published = registry.getSingleMetric('brigade_outbox_published_total') as client.Counter<'outbox' | 'database'>;
  const latency = registry.getSingleMetric('brigade_outbox_publish_latency_seconds') as client.Histogram<'outbox' | 'database'>;
  const failures = registry.getSingleMetric('brigade_outbox_publish_failures_total') as client.Counter<'outbox' | 'database'>;
  const leader = registry.getSingleMetric('brigade_outbox_relay_leader') as client.Gauge<'outbox' | 'database'>;
  const map = readers;
  return {
    published: (labels, count, latencies) => {
      const series = seriesOf(labels);
      published.inc(series, count);
      for (const l of latencies) latency.observe(series, l);
    },
    publishFailed: (labels) => failures.inc(seriesOf(labels)),
    leader: (labels, isLeader) => leader.set(seriesOf(labels), isLeader ? 1 : 0),
    watch: (labels, read) => {
      const key = keyOf(labels);
      // Scrapes that overlap share each outbox's read in flight (it settles within BACKLOG_READ_TIMEOUT_MS),
      // so they hold one connection of its pool however many there are.
      const watched: Watched = { labels, read: shareInFlight(() => readWithin(read)) };
      map.set(key, watched);
      return () => {
        if (map.get(key) === watched) map.delete(key);
      };
    },
  };
}
