import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';

/**
 * CPU seconds used so far by every process whose command name is `name` (`postgres`, `nats-server`) on
 * this machine, with the children they have reaped (a PostgreSQL backend that ended counts in the
 * postmaster's). Linux /proc; 0 elsewhere. Take the difference of two readings.
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

/** CPU seconds so far of this Node process, every PostgreSQL process and nats-server. */
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
