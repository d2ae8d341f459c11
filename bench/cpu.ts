import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU seconds used so far by every process whose command name is `name` (`postgres`, `nats-server`) on
 * this machine, with the children they have reaped (a PostgreSQL backend that ended counts in the
 * postmaster's). Linux /proc; 0 elsewhere. Take the difference of two readings.
 */
export async function processCpuSeconds(name: string): Promise<number> {
  let ticks = 0;
  const pids = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    pids.filter((p) => /^\d+$/.test(p)).map(async (pid) => {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      if (!stat.includes(`(${name})`)) return;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    }),
  );
  return ticks / 100;
}
