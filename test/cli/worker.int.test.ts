import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { projectionStatus } from '../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';
import { brigadeBin, repoRoot } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';

describe('brigade worker NAME...', () => {
  const database = useTestDatabase();

  test('runs the named workers, and only those, in one process; stops cleanly on SIGTERM', async () => {
    const pool = database.pool(2);
    const child = spawn(process.execPath, [brigadeBin, 'worker', 'ordering/projection-board', 'projection-courier-tasks'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40) },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // Each projection worker holds its leader lock (runProjection) while it runs.
      const leaders = async () => (await projectionStatus(pool, ORDER_VIEWS.all)).filter((state) => state.leaderPid !== null).map((state) => state.name);
      const names = await eventually('the two named projections to lead', leaders, (held) => held.length === 2);
      assert.deepEqual(names, ['board', 'courier-tasks'], out);
      assert.match(out, /workers {2}ordering\/projection-board, ordering\/projection-courier-tasks\n/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /Stopped cleanly/);
  });
});
