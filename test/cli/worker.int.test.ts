import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
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
      const leaders = () =>
        pool
          .query<{ name: string }>(
            `select p.name from unnest($1::text[], $2::text[]) as p(name, key)
               join pg_locks l on l.locktype = 'advisory' and l.granted and l.objsubid = 2
                and l.classid = (hashtext('brigade.projection')::bigint & 4294967295)::oid
                and l.objid = (hashtext(p.key)::bigint & 4294967295)::oid
              order by 1`,
            [ORDER_VIEWS.all.map((p) => p.name), ORDER_VIEWS.all.map((p) => `${p.schema}.${p.name}`)],
          )
          .then(({ rows }) => rows.map((r) => r.name));
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
