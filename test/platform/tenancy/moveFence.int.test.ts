import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { createDatabases, type Databases, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createTenantRouter, moveTenant, type MoveTenantOptions, type TenantRouter } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';
import { restaurantRows } from '../../support/restaurantRows.ts';

// How a move takes the tenant's fence and what it says meanwhile (decision 0008): it waits a bounded
// time for the tenant's transactions in flight, naming them, and says what each long step does.
describe("a move's fence and its progress", () => {
  const database = useTestDatabase();
  let dbs: Databases;
  let router: TenantRouter;
  let admin: pg.Pool;

  before(async () => {
    dbs = createDatabases({ url: database.db.url, poolSize: 4 });
    database.defer(() => dbs.close());
    router = createTenantRouter({ databases: dbs });
    admin = database.pool(4);
  });

  const { addRestaurant, staffRows, placed: placement } = restaurantRows(() => admin);
  const staffOf = (tenantId: string): UnitOfWorkContext => ({ service: 'platform', tenantId, actor: { kind: 'staff', id: randomUUID() } });
  const move = (tenantId: string, targetUrl: string, more: Partial<MoveTenantOptions> = {}) =>
    moveTenant({ tenantId, sourceUrl: database.db.url, targetUrl, sets: migrationSets(), schemas: MOVING_SCHEMAS, ...more });

  /** A routed transaction of `tenant` that stays open (idle in transaction) until `release()`; `pid` is its backend. */
  const holdTransaction = async (tenant: string) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let pid = 0;
    const done = router.unitOfWork(staffOf(tenant), async (tx) => {
      pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await gate;
    });
    done.catch(() => undefined); // awaited by the test
    while (pid === 0) await sleep(5);
    return { pid, release, done };
  };

  test('a transaction of the tenant left open: the move gives up after fenceWaitMs naming it, nothing moved, and the tenant writes again at once', async () => {
    const rid = await addRestaurant('Held');
    const target = await createTestDatabase();
    const held = await holdTransaction(rid);
    try {
      const lines: string[] = [];
      const moving = move(rid, target.url, { fenceWaitMs: 1500, onProgress: (l) => lines.push(l) });
      moving.catch(() => undefined); // awaited below
      // A write of the tenant while the move waits for the fence: refused by the queued request, it waits in the router.
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => l.startsWith(`fencing tenant ${rid}: `))) {
        assert.ok(Date.now() < deadline, `the move asked for the fence; it said:\n${lines.join('\n')}`);
        await sleep(20);
      }
      const write = router.unitOfWork(staffOf(rid), (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'during', $2)`, [rid, `${randomUUID()}@example.com`]));
      write.catch(() => undefined);
      // Bounded only so that a move that waits for ever fails here instead of at the file's timeout.
      await assert.rejects(within(moving, 60_000, 'the move to give up'), (error: { code?: string; message?: string }) => {
        assert.equal(error.code, 'TENANT_FENCE_TIMEOUT', String(error));
        // The held transaction is named; the write above may be named beside it, when one of its tries
        // (each refused by the queued request) was in flight as the move gave up.
        assert.match(error.message ?? '', new RegExp(`did not finish within 1\\.5 s \\((pid \\d+ \\([^)]*\\), )*pid ${held.pid} \\([^)]*, idle in transaction, \\d+ s\\)(, pid \\d+ \\([^)]*\\))*\\): nothing moved`));
        assert.match(error.message ?? '', /End them \(select pg_terminate_backend\(pid\)\) or retry/);
        return true;
      });
      assert.ok(lines.includes(`fencing tenant ${rid}: waiting up to 1.5 s for its transactions in flight to finish (its new ones wait meanwhile) …`), lines.join('\n'));
      // The queued request is gone: the write waiting in the router commits while the held one is still open.
      await within(write, 30_000, 'the write held by the fence');
      held.release();
      await held.done;
      assert.equal(await placement(rid), 0, 'nothing moved');
      assert.equal(await staffRows(rid), 4, 'the rows are in the shared database: the three and the one written during the wait');
    } finally {
      held.release();
      await held.done.catch(() => undefined);
      await target.drop();
    }
  });

  test('while the move waits for the fence it names the transactions it waits for; ended with pg_terminate_backend, the move goes on', async () => {
    const rid = await addRestaurant('Stuck');
    const target = await createTestDatabase();
    const held = await holdTransaction(rid);
    try {
      const lines: string[] = [];
      const moving = move(rid, target.url, { fenceWaitMs: 120_000, onProgress: (l) => lines.push(l) });
      moving.catch(() => undefined); // awaited below
      const named = new RegExp(`^  waiting for 1 transaction\\(s\\) of tenant ${rid}: pid ${held.pid} \\([^)]*, idle in transaction, \\d+ s\\); end one with select pg_terminate_backend\\(pid\\)$`);
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => named.test(l))) {
        assert.ok(Date.now() < deadline, `the move named the open transaction; it said:\n${lines.join('\n')}`);
        await sleep(20);
      }
      await admin.query('select pg_terminate_backend($1)', [held.pid]);
      await within(moving, 60_000, 'the move once the transaction ended');
      assert.equal(await placement(rid), 1);
      assert.equal(await staffRows(rid), 0, 'the rows left the shared database');
    } finally {
      held.release();
      await held.done.catch(() => undefined);
      await target.drop();
    }
  });

  test('each delete and check is announced before it runs, each copy and delete gives rows and rows/s, and a step that lasts says what it does and how long the writes have been held', async () => {
    const rid = await addRestaurant('Slow', 12);
    const target = await createTestDatabase();
    // A lock that the shared database's delete of platform.staff waits for (SHARE: the copy's reads pass).
    const blocker = await admin.connect();
    let blocked = true;
    try {
      await blocker.query('begin');
      await blocker.query('lock table platform.staff in share mode');
      const lines: string[] = [];
      const moving = move(rid, target.url, { progressEveryMs: 100, onProgress: (l) => lines.push(l) });
      moving.catch(() => undefined); // awaited below
      const heartbeat = new RegExp(`^  … deleting the rows of platform\\.staff from the shared database and checking them against the copy; tenant ${rid}'s writes held for \\d+\\.\\d s$`);
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => heartbeat.test(l))) {
        assert.ok(Date.now() < deadline, `a line said the move was still deleting; it said:\n${lines.join('\n')}`);
        await sleep(20);
      }
      await blocker.query('commit');
      blocked = false;
      const moved = await within(moving, 60_000, 'the move');
      assert.equal(moved.rows['platform.staff'], 12);
      assert.ok(
        lines.some((l) => /^ {2}copied 12 row\(s\) of platform\.staff in \d+\.\d s \(\d+ rows\/s\); writes held for \d+\.\d s$/.test(l)),
        lines.join('\n'),
      );
      // Every table that is not a view: its delete and check announced, then its outcome, in that order.
      const announced = lines.flatMap((l, i) => {
        const m = /^ {2}deleting the rows of (\S+) from the shared database and checking them against the copy …$/.exec(l);
        return m === null ? [] : [{ table: m[1]!, at: i }];
      });
      assert.ok(announced.length >= 10, lines.join('\n'));
      for (const { table, at } of announced) {
        const outcome = lines.findIndex((l) => l.startsWith(`  deleted `) && l.includes(` of ${table} in `));
        assert.ok(outcome > at, `${table}: the outcome follows the announcement`);
        assert.match(lines[outcome]!, /^ {2}deleted \d+ row\(s\) of \S+ in \d+\.\d s \(\d+ rows\/s\): the same rows as the copy; writes held for \d+\.\d s$/);
      }
      assert.ok(announced.some((a) => a.table === 'platform.staff'));
      assert.match(lines.at(-1)!, new RegExp(`^tenant ${rid} now lives in its own database; its rows are gone from the shared one \\(its writes were held for \\d+\\.\\d s\\)$`));
    } finally {
      if (blocked) await blocker.query('rollback').catch(() => undefined);
      blocker.release();
      await target.drop();
    }
  });
});
