import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { createDatabases, type Databases, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createTenantRouter, moveTenant, type MoveTenantOptions, type TenantRouter } from '../../../src/platform/tenancy/index.ts';
import { adminQuery, createTestDatabase, useTestDatabase, type TestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';
import { restaurantRows } from '../../support/restaurantRows.ts';
import { silentProxy, type SilentProxy } from '../../support/silentProxy.ts';

// A move whose target database stops answering (packets dropped, no reset) while the move holds the
// tenant's fence (decision 0008): an abort (Ctrl+C) ends it at once, fence released, and during the copy
// the shared database releases the fence by itself.
describe('a move whose target goes silent', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  let router: TenantRouter;
  /** Gives up on a moving tenant after 3 s, as a request would. */
  let impatient: TenantRouter;
  let admin: pg.Pool;

  before(async () => {
    dbs = createDatabases({ url: database.db.url, poolSize: 4 });
    database.defer(() => dbs.close());
    router = createTenantRouter({ databases: dbs });
    impatient = createTenantRouter({ databases: dbs, moveWaitMs: 3000 });
    admin = database.pool(4);
  });

  const { addRestaurant, staffRows, placed, fenceFree } = restaurantRows(() => admin);
  const staffOf = (tenantId: string): UnitOfWorkContext => ({ service: 'platform', tenantId, actor: { kind: 'staff', id: randomUUID() } });
  const addStaff = (via: TenantRouter, tenant: string) =>
    via.unitOfWork(staffOf(tenant), (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'during', $2)`, [tenant, `${randomUUID()}@example.com`]));
  /** Polls `done` until it holds, for at most `ms`. */
  const until = async (what: string, ms: number, done: () => Promise<boolean> | boolean, said: () => string = () => '') => {
    const deadline = Date.now() + ms;
    while (!(await done())) {
      assert.ok(Date.now() < deadline, `timed out after ${ms} ms waiting for ${what}\n${said()}`);
      await sleep(50);
    }
  };

  /**
   * Moves `rid` into a new database through a proxy that goes silent at the first progress line that
   * `silentAt` matches (inside the line's callback, so before the move's next statement).
   */
  const moveGoingSilent = async (rid: string, silentAt: RegExp, more: Partial<MoveTenantOptions> = {}) => {
    const target = await createTestDatabase();
    const proxy = await silentProxy(target.url);
    const stop = new AbortController();
    const lines: string[] = [];
    const moving = moveTenant({
      tenantId: rid,
      sourceUrl: database.db.url,
      targetUrl: proxy.url,
      sets: migrationSets(),
      schemas: MOVING_SCHEMAS,
      signal: stop.signal,
      onProgress: (line) => {
        lines.push(line);
        if (silentAt.test(line)) proxy.silence();
      },
      ...more,
    });
    moving.catch(() => undefined); // awaited by the test
    return { target, proxy, stop, lines, moving, said: () => lines.join('\n') };
  };
  /** Ends the proxy (a move still waiting then fails), and drops the target once its sessions are gone. */
  const cleanUp = async (run: { target: TestDatabase; proxy: SilentProxy; moving: Promise<unknown> }) => {
    await run.proxy.close();
    await run.moving.catch(() => undefined);
    await until('the target database to have no session', 30_000, async () => (await adminQuery(`select 1 from pg_stat_activity where datname = $1`, [run.target.name])).rowCount === 0);
    await run.target.drop();
  };

  test('the target goes silent once the tenant is fenced: an abort ends the move within seconds, nothing moved, the fence released and the tenant writing in the shared database', async () => {
    const rid = await addRestaurant('Silent');
    const run = await moveGoingSilent(rid, new RegExp(`^fenced tenant ${rid} `));
    try {
      await until('the move to take the fence', 60_000, () => run.lines.some((l) => l.startsWith(`fenced tenant ${rid} `)), run.said);
      // The fence holds while the move waits for the silent target: a request of the tenant gives up.
      await assert.rejects(addStaff(impatient, rid), (error: { code?: string }) => error.code === 'TENANT_MOVING');
      const asked = performance.now();
      run.stop.abort('SIGINT');
      await assert.rejects(within(run.moving, 30_000, 'the aborted move to end'), (error: { code?: string; message?: string }) => {
        assert.equal(error.code, 'TENANT_MOVE_INTERRUPTED', String(error));
        assert.match(error.message ?? '', /was interrupted by SIGINT while .*: nothing moved\. Its rows are in the shared database as before and its writes run there again/);
        return true;
      });
      // The cancel of the target's statement gives up on the silent database after its 5 s connect timeout.
      assert.ok(performance.now() - asked < 15_000, `the move ended ${Math.round(performance.now() - asked)} ms after the abort`);
      await until('the fence to be released', 10_000, () => fenceFree(rid));
      await within(addStaff(router, rid), 30_000, 'a write of the tenant');
      assert.equal(await placed(rid), 0, 'nothing moved');
      assert.equal(await staffRows(rid), 4, 'the three rows and the one written after the abort, in the shared database');
    } finally {
      await cleanUp(run);
    }
  });

  test('while the move checks both databases under the fence, its heartbeat says so (not that it waits for the tenant\'s transactions)', async () => {
    const rid = await addRestaurant('Checking');
    const run = await moveGoingSilent(rid, new RegExp(`^fenced tenant ${rid} `), { progressEveryMs: 100 });
    try {
      const heartbeat = new RegExp(`^  … (.*); tenant ${rid}'s writes held for \\d+\\.\\d s$`);
      await until('a heartbeat after the fence', 60_000, () => run.lines.some((l) => heartbeat.test(l)), run.said);
      const line = run.lines.find((l) => heartbeat.test(l))!;
      assert.equal(heartbeat.exec(line)![1], 'checking the shared and the target database under the fence', run.said());
      run.stop.abort('SIGINT');
      await assert.rejects(within(run.moving, 30_000, 'the aborted move to end'), /interrupted by SIGINT while checking the shared and the target database under the fence: nothing moved/);
    } finally {
      await cleanUp(run);
    }
  });

  test('the target goes silent during the copy and nobody stops the move: the shared database ends the idle move session itself, releasing the fence', async () => {
    const rid = await addRestaurant('Unattended');
    const run = await moveGoingSilent(rid, /^ {2}copied \d+ row\(s\) of /);
    try {
      await until('the copy to start', 60_000, () => run.lines.some((l) => /^ {2}copied /.test(l)), run.said);
      assert.equal(await fenceFree(rid), false, 'the move holds the fence while it waits for the target');
      // idle_in_transaction_session_timeout (60 s) on the move's session in the shared database.
      await until('the shared database to release the fence', 120_000, () => fenceFree(rid), run.said);
      await within(addStaff(impatient, rid), 30_000, 'a write of the tenant');
      assert.equal(await staffRows(rid), 4);
      assert.equal(await placed(rid), 0);
      // The move itself still waits for the target's answer; an abort ends it.
      run.stop.abort('SIGINT');
      await assert.rejects(within(run.moving, 30_000, 'the aborted move to end'), (error: { code?: string }) => error.code === 'TENANT_MOVE_INTERRUPTED');
    } finally {
      await cleanUp(run);
    }
  });
});
