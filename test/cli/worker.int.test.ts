import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { freePort } from '../../src/platform/db/localPorts.ts';
import { projectionStatus } from '../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';
import { brigadeBin, repoRoot } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { silentProxy, type SilentProxy } from '../support/silentProxy.ts';
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

  // Found by a review: a consumer started while the database was down failed at its first statement
  // (creating its subscription, then reading its lease), before any retry applied, and `brigade worker`
  // shut down with exit 1 ("worker ordering/dispatch-alerts-consumer crashed: connect ECONNREFUSED").
  test('the bus consumers started before their database answers warn and wait for it, then consume; SIGTERM stops them cleanly', async () => {
    const pool = database.pool(2);
    const port = await freePort();
    const later = new URL(database.db.url);
    later.hostname = '127.0.0.1';
    later.port = String(port);
    const consumers = ['ordering/dispatch-alerts-consumer', 'delivery/order-events-consumer', 'payments/order-events-consumer'];
    const child = spawn(process.execPath, [brigadeBin, 'worker', ...consumers], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', DATABASE_URL: later.toString(), BRIGADE_SECRET: 'x'.repeat(40) },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    let gone = false;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => ((gone = true), resolve(code))));
    // The database "comes up" on that port once every consumer has said it waits: a proxy to it.
    let relay = null as SilentProxy | null;
    try {
      const waiting = ['ordering dispatch alerts', 'delivery order events', 'payments order events'].map((what) => `${what}: connect ECONNREFUSED`);
      await eventually('each consumer to warn that the database refused it (or the worker to exit)', async () => out, (text) => gone || waiting.every((line) => text.includes(line)));
      assert.equal(gone, false, `brigade worker exited while the database was down:\n${out}`);
      relay = await silentProxy(database.db.url, port);
      // The PostgreSQL transport's LISTEN connection is opened once a consumer has read its subscription.
      const listening = async () =>
        (await pool.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'listen %' and pid <> pg_backend_pid()`)).rows[0]?.n ?? 0;
      await eventually('the consumers to listen on the bus (or the worker to exit)', async () => (gone ? -1 : await listening()), (n) => n !== 0);
      assert.equal(gone, false, `brigade worker exited:\n${out}`);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await relay?.close();
    }
    assert.equal(await exited, 0, out);
    assert.doesNotMatch(out, /crashed/);
    assert.match(out, /Stopped cleanly/);
  });
});
