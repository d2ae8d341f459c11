import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';

/**
 * CPU seconds used so far by every process whose command name is `name` (`postgres`, `nats-server`) on
 * this machine, with the children they have reaped (a PostgreSQL backend that ended counts in the
 * postmaster's). Linux /proc; 0 elsewhere. Take the difference of two readings.
 *
 * Machine-wide: for `postgres` it counts every database of the server and every other PostgreSQL on
 * the machine (a test run's embedded server), so a difference can be anything, even negative (a
 * postmaster that stopped between the readings takes its reaped children's CPU with it: "server -94 µs"
 * per append was printed once). Per database, use {@link meterBackendCpu}.
 */
export async function processCpuSeconds(name: string): Promise<number> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  const seconds = await Promise.all(pids.map((pid) => pidCpuSeconds(pid, name)));
  return seconds.reduce((sum, s) => sum + s, 0);
}

/**
 * CPU seconds used so far by process `pid` with the children it has reaped; 0 when it is gone (or
 * not Linux), or when `name` is given and is not its command name.
 */
export async function pidCpuSeconds(pid: number | string, name?: string): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (stat === '' || (name !== undefined && !stat.includes(`(${name})`))) return 0;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

/**
 * CPU seconds so far of this Node process, every PostgreSQL process on the machine (machine-wide, see
 * {@link processCpuSeconds}) and nats-server.
 */
export interface CpuReading {
  readonly node: number;
  readonly postgres: number;
  readonly nats: number;
}

/** Reads {@link CpuReading} now; the difference of two readings is the CPU spent between them. */
export async function readCpu(): Promise<CpuReading> {
  const [postgres, nats] = await Promise.all([processCpuSeconds('postgres'), processCpuSeconds('nats-server')]);
  const own = process.cpuUsage();
  return { node: (own.user + own.system) / 1e6, postgres, nats };
}

/** CPU seconds spent since `before`, divided by `per` (a count of messages, rows…). */
export async function cpuSince(before: CpuReading, per = 1): Promise<CpuReading> {
  const after = await readCpu();
  return { node: (after.node - before.node) / per, postgres: (after.postgres - before.postgres) / per, nats: (after.nats - before.nats) / per };
}

/**
 * CPU seconds used so far by the backends connected to database `database` (Linux, PostgreSQL on this
 * machine), or null when a backend's /proc entry is unreadable. Take the difference of two readings
 * while the same connections stay open.
 */
export async function backendCpuSeconds(admin: pg.Client, database: string): Promise<number | null> {
  const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [database]);
  let ticks = 0;
  for (const { pid } of rows) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (stat === null) return null;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

/** A running {@link meterBackendCpu}. */
export interface BackendCpuMeter {
  /**
   * Takes a last sample and stops: the CPU seconds the backends of the metered databases used since the
   * meter started, or null when their processes cannot be read here (PostgreSQL on another machine,
   * not Linux).
   */
  stop(): Promise<number | null>;
}

/**
 * Meters the CPU of the PostgreSQL backends connected to `databases` (the benchmark's own: its
 * writers', relay's and projectors' connections, a `brigade worker` process's too), from now until
 * `stop()`, leaving out every other database of the server and every other PostgreSQL on the machine.
 *
 * It samples `pg_stat_activity` and `/proc/<pid>/stat` every `everyMs` ms: a backend present at the
 * start counts from its first reading, one that connects later counts whole (it started inside the
 * window), one that ends counts up to its last sample, so short-lived connections (pgbench's) lose at
 * most `everyMs` of their CPU each. A pid reused by a new backend is told apart by its start time.
 * Not counted: the server's shared processes (WAL writer, checkpointer, background writer), which
 * serve every database.
 *
 * @param adminUrl a connection to the server (any database; the meter's own backend is left out)
 * @example
 * const meter = await meterBackendCpu(ADMIN_URL, ['brigade_bench_es']);
 * await work();
 * const serverSeconds = await meter.stop(); // null: not measurable here
 */
export async function meterBackendCpu(adminUrl: string, databases: readonly string[], everyMs = 100): Promise<BackendCpuMeter> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'bench-cpu-meter' });
  await client.connect();
  /** Per backend (`pid:starttime`): its CPU ticks when first seen in the window (0 when it started inside it) and at its last sample. */
  const backends = new Map<string, { first: number; last: number }>();
  let first = true;
  let readable = true;
  const sample = async () => {
    const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = any($1::text[]) and pid <> pg_backend_pid()', [databases]);
    let read = 0;
    for (const { pid } of rows) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
      // Gone since the query (it counts up to its last sample), or not a PostgreSQL process of this machine.
      if (stat === null || !stat.includes('(postgres)')) continue;
      read++;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]);
      const key = `${pid}:${f[19]}`;
      const known = backends.get(key);
      if (known === undefined) backends.set(key, { first: first ? ticks : 0, last: ticks });
      else known.last = ticks;
    }
    // Backends listed and none of them readable as a local PostgreSQL process: the server is elsewhere.
    if (first && rows.length > 0 && read === 0) readable = false;
    first = false;
  };
  await sample();
  let stopped = false;
  let failure: unknown = null;
  const loop = (async () => {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (!stopped) await sample();
    }
  })().catch((error: unknown) => {
    failure = error; // reported by stop(), not as an unhandled rejection in the middle of a phase
  });
  return {
    stop: async () => {
      stopped = true;
      try {
        await loop;
        if (failure !== null) throw new Error('the backend CPU meter failed', { cause: failure });
        await sample();
      } finally {
        await client.end();
      }
      if (!readable) return null;
      let ticks = 0;
      for (const b of backends.values()) ticks += b.last - b.first;
      return ticks / 100;
    },
  };
}
