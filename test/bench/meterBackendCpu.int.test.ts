import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { meterBackendCpu, pidCpuSeconds, processCpuSeconds } from '../../bench/cpu.ts';
import { testEnv } from '../support/env.ts';
import { useTestDatabase } from '../support/db.ts';

/** A query that keeps its backend on the CPU for a while (about half a second here). */
const BURN = 'select count(*) from generate_series(1, 3000000)';

/** A client on `url` and its backend's pid. */
async function connect(url: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return { client, pid: rows[0]!.pid };
}

describe("meterBackendCpu: the CPU of one database's backends", () => {
  const measured = useTestDatabase();
  const other = useTestDatabase();

  test("counts the metered database's backends and not another database's (a machine-wide reading counts both)", async () => {
    const mine = await connect(measured.db.url);
    const theirs = await connect(other.db.url);
    try {
      const meterMine = await meterBackendCpu(testEnv.adminUrl, [measured.db.name], 50);
      const meterTheirs = await meterBackendCpu(testEnv.adminUrl, [other.db.name], 50);
      const mine0 = await pidCpuSeconds(mine.pid);
      await mine.client.query(BURN);
      const mineSpent = (await pidCpuSeconds(mine.pid)) - mine0;
      const [metered, meteredOther] = [await meterMine.stop(), await meterTheirs.stop()];
      assert.ok(mineSpent > 0.05, `the burn took CPU (${mineSpent} s)`);
      assert.ok(metered !== null && Math.abs(metered - mineSpent) <= 0.05, `metered ${metered} s, the backend spent ${mineSpent} s`);
      assert.ok(meteredOther !== null && meteredOther < 0.05, `the other database's backends were idle: ${meteredOther} s`);
      // And the other way round: the other database's burn is not the metered one's.
      const meterAgain = await meterBackendCpu(testEnv.adminUrl, [measured.db.name], 50);
      const [machine0, theirs0] = [await processCpuSeconds('postgres'), await pidCpuSeconds(theirs.pid)];
      await theirs.client.query(BURN);
      const [machine, theirsSpent] = [(await processCpuSeconds('postgres')) - machine0, (await pidCpuSeconds(theirs.pid)) - theirs0];
      const again = await meterAgain.stop();
      assert.ok(again !== null && again < 0.05, `another database's load left out: ${again} s`);
      // What the benchmarks read before: every PostgreSQL process of the machine, the other database's burn included.
      assert.ok(machine >= theirsSpent - 0.02, `machine-wide ${machine} s, the other database's burn ${theirsSpent} s`);
    } finally {
      await mine.client.end();
      await theirs.client.end();
    }
  });

  test('a backend that connects after the meter started and ends before it stops counts whole (pgbench connects per run)', async () => {
    const meter = await meterBackendCpu(testEnv.adminUrl, [measured.db.name], 50);
    const late = await connect(measured.db.url);
    await late.client.query(BURN);
    await new Promise((resolve) => setTimeout(resolve, 200)); // a sample after the burn
    const spent = await pidCpuSeconds(late.pid);
    await late.client.end();
    const metered = await meter.stop();
    assert.ok(metered !== null && metered >= spent - 0.03 && metered <= spent + 0.05, `metered ${metered} s, the short-lived backend spent ${spent} s`);
  });
});
