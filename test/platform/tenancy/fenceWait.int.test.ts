import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createDatabases, type Databases, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { createTenantRouter, tenantNotMoving, type TenantRouter } from '../../../src/platform/tenancy/index.ts';
import { releaseTenantFence } from '../../../src/platform/tenancy/releaseTenantFence.ts';
import { takeTenantFence } from '../../../src/platform/tenancy/takeTenantFence.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../../support/db.ts';

// A move holds the tenant's fence exclusively for its copy (moveTenant). These tests take it with the
// move's own code (session locks) on a connection of their own, so the move lasts exactly as long as
// the test wants.
// The fence's key before platform migration 0032, which an older release's code still uses.
const OLD_FENCE = `hashtext('brigade.tenant_fence'), hashtext($1::uuid::text)`;

describe('the tenant fence while a move holds it (decision 0008)', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  let router: TenantRouter;
  let admin: pg.Pool;
  let target: TestDatabase;
  const probe = 'create table menu.fence_probe (tenant_id uuid not null, n int not null); grant select, insert on menu.fence_probe to brigade_menu';

  before(async () => {
    // The database a tenant moves to; dropped after the pools (clean-ups run last first).
    target = await createTestDatabase();
    database.defer(() => target.drop());
    const targetAdmin = new pg.Client({ connectionString: target.url });
    await targetAdmin.connect();
    await targetAdmin.query(probe).finally(() => targetAdmin.end());
    // Two connections: a move that held them would stall every tenant of the process.
    dbs = createDatabases({ url: database.db.url, poolSize: 2 });
    database.defer(() => dbs.close());
    router = createTenantRouter({ databases: dbs });
    admin = database.pool(2);
    await admin.query(probe);
  });

  const staff = (service: string, tenantId: string): UnitOfWorkContext => ({ service, tenantId, actor: { kind: 'staff', id: randomUUID() } });
  const insert = (n: number) => ({ text: `insert into menu.fence_probe values (nullif(current_setting('brigade.tenant_id', true), '')::uuid, $1)`, values: [n] });

  /** Holds `tenant`'s fence exclusively, as a move does, until the returned function lets it go. */
  const holdFence = async (tenant: string) => {
    const client = await admin.connect();
    await takeTenantFence({ session: client, url: database.db.url, tenantId: tenant, reportEveryMs: 60_000, progress: () => undefined });
    let held = true;
    return async () => {
      if (!held) return;
      held = false;
      await releaseTenantFence(client, tenant);
      client.release();
    };
  };

  /**
   * Polls until `done()`; fails at once when any transaction waits for a fence inside PostgreSQL, which
   * is a pooled connection held for as long as the move lasts.
   */
  const until = async (done: () => boolean) => {
    while (!done()) {
      const waiting = await admin.query<{ n: number }>(
        `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`,
      );
      assert.equal(waiting.rows[0]!.n, 0, 'a transaction waits for the fence inside PostgreSQL, holding a pooled connection');
      await sleep(5);
    }
  };

  /** A transaction followed from outside: `ended` once it has committed or failed (then `error`). */
  const follow = (promise: Promise<unknown>) => {
    const state = { ended: false, error: undefined as unknown, promise };
    promise.then(
      () => (state.ended = true),
      (error: unknown) => Object.assign(state, { ended: true, error }),
    );
    return state;
  };

  const rows = async (url: string, tenant: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<{ n: number }>('select n from menu.fence_probe where tenant_id = $1 order by n', [tenant])).rows.map((r) => r.n);
    } finally {
      await client.end();
    }
  };

  test('a small pool keeps serving other tenants while many transactions of the moving tenant wait; they commit when the fence is let go', async () => {
    const moving = randomUUID();
    const release = await holdFence(moving);
    try {
      // Eight transactions of the moving tenant on a pool of two: each counts the tries of its function.
      const tries = Array.from({ length: 8 }, () => 0);
      const waiting = tries.map((_, i) =>
        follow(
          router.unitOfWork(staff('menu', moving), async (tx) => {
            tries[i]!++;
            await tx.query(insert(i).text, insert(i).values);
          }),
        ),
      );
      // Every one of them was refused by the fence at least once and tried again.
      await until(() => tries.every((n) => n >= 2) || waiting.some((w) => w.ended));
      assert.deepEqual(waiting.map((w) => w.error), tries.map(() => undefined));
      assert.ok(waiting.every((w) => !w.ended), 'the moving tenant waits');

      // Other tenants, through both kinds of unit, get the pool's connections in the meantime.
      const others = Array.from({ length: 10 }, () => randomUUID());
      const served = follow(
        Promise.all(
          others.map((tenant, i) =>
            i % 2 === 0
              ? router.unitOfWork(staff('menu', tenant), (tx) => tx.query(insert(100 + i).text, insert(100 + i).values))
              : router.commitStatements(staff('menu', tenant), [insert(100 + i)]),
          ),
        ),
      );
      await until(() => served.ended);
      assert.equal(served.error, undefined);
      for (const [i, tenant] of others.entries()) assert.deepEqual(await rows(database.db.url, tenant), [100 + i]);
      assert.ok(waiting.every((w) => !w.ended), 'the moving tenant still waits');
      assert.deepEqual(await rows(database.db.url, moving), [], 'nothing of the moving tenant was written while the fence was held');

      // The move ends without moving the tenant: each waiting transaction commits once, in the same database.
      await release();
      await Promise.all(waiting.map((w) => w.promise));
      assert.deepEqual(await rows(database.db.url, moving), [0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await release();
    }
  });

  test('transactions waiting on a move follow it to the new database once the fence is let go', async () => {
    const moving = randomUUID();
    const release = await holdFence(moving);
    try {
      let tries = 0;
      const waiting = [
        follow(
          router.unitOfWork(staff('menu', moving), async (tx) => {
            tries++;
            await tx.query(insert(1).text, insert(1).values);
          }),
        ),
        follow(router.commitStatements(staff('menu', moving), [insert(2)])),
      ];
      await until(() => tries >= 2 || waiting.some((w) => w.ended));
      assert.ok(waiting.every((w) => !w.ended), 'both wait for the move');
      // What the move does before it lets go: the tenant is now placed in the target database.
      await admin.query(
        `with c as (insert into platform.cities (name) values ($2) returning id), r as (insert into platform.restaurants (id, city_id, name) select $1, id, 'Moving' from c)
         insert into platform.tenant_placements (tenant_id, database_url) values ($1, $3)`,
        [moving, `City ${moving}`, target.url],
      );
      await release();
      await Promise.all(waiting.map((w) => w.promise));
      assert.deepEqual(await rows(target.url, moving), [1, 2], 'both committed in the new database');
      assert.deepEqual(await rows(database.db.url, moving), [], 'and nothing in the old one');
      assert.equal(router.placementOf(moving), target.url);
    } finally {
      await release();
    }
  });

  test('a move that outlasts moveWaitMs fails the waiting transaction with TENANT_MOVING (503, retry later)', async () => {
    const moving = randomUUID();
    const impatient = createTenantRouter({ databases: dbs, moveWaitMs: 50 });
    const release = await holdFence(moving);
    try {
      const given = [
        follow(impatient.unitOfWork(staff('menu', moving), (tx) => tx.query(insert(1).text, insert(1).values))),
        follow(impatient.commitStatements(staff('menu', moving), [insert(2)])),
      ];
      await until(() => given.every((w) => w.ended));
      for (const { error } of given) {
        assert.ok(error instanceof BrigadeError, String(error));
        assert.equal(error.code, 'TENANT_MOVING');
        assert.equal(error.status, 503);
        assert.match(error.message, /retry later/);
        assert.equal((error.cause as { code?: string }).code, 'BRMVG');
      }
    } finally {
      await release();
    }
    assert.deepEqual(await rows(database.db.url, moving), []);
    // Once the move is over the same router serves the tenant again.
    await impatient.commitStatements(staff('menu', moving), [insert(3)]);
    assert.deepEqual(await rows(database.db.url, moving), [3]);
  });
  test('two tenants whose ids share a 32-bit hash have a fence each: while a move holds the one, the other writes', async () => {
    // Found by a review: the fence was keyed on hashtext (32 bits) of the id, and these two collide.
    const [a, b] = ['1430f7c9-b192-4b5b-b427-a4366e00a754', 'ab4a98a0-aacb-4760-97ad-0ef4e23ce5b1'];
    const hashes = await admin.query<{ a: number; b: number }>('select hashtext($1) as a, hashtext($2) as b', [a, b]);
    assert.equal(hashes.rows[0]!.a, hashes.rows[0]!.b, 'the pair collides in 32 bits');
    const impatient = createTenantRouter({ databases: dbs, moveWaitMs: 1000 });
    const release = await holdFence(a);
    try {
      // B's routed transactions (platform.enter_tenant) commit: before, both failed with TENANT_MOVING (BRMVG).
      await impatient.unitOfWork(staff('menu', b), (tx) => tx.query(insert(1).text, insert(1).values));
      await impatient.commitStatements(staff('menu', b), [insert(2)]);
      assert.deepEqual(await rows(database.db.url, b), [1, 2]);
      // The other users of the key: a merged batch's fence and a saga claim's guard let B in, not A.
      const client = await admin.connect();
      try {
        const enterBatch = async (tenant: string) => {
          await client.query('begin');
          try {
            await client.query(`select set_config('brigade.batch_tenants', $1, true)`, [tenant]);
            await client.query('set local role brigade_menu');
            await client.query(`select platform.enter_tenants(array[$1]::uuid[], array['']::text[])`, [tenant]);
            return 'entered';
          } catch (error) {
            return (error as { code?: string }).code;
          } finally {
            await client.query('rollback');
          }
        };
        assert.equal(await enterBatch(b), 'entered');
        assert.equal(await enterBatch(a), 'BRMVG');
        const guard = async (tenant: string, key = tenantNotMoving('$1::uuid')) => {
          await client.query('begin');
          try {
            return (await client.query<{ free: boolean }>(`select ${key} as free`, [tenant])).rows[0]!.free;
          } finally {
            await client.query('rollback');
          }
        };
        assert.equal(await guard(b), true, "B's saga rows are claimed");
        assert.equal(await guard(a), false, "A's are left for a later poll");
        // A process of an older release (rolling deploy) tries the old key in its saga claims: the move holds that one too.
        assert.equal(await guard(a, `pg_try_advisory_xact_lock_shared(${OLD_FENCE})`), false, "an older release's claim leaves A's rows too");
      } finally {
        client.release();
      }
      // A itself still waits for its move.
      const refused = await impatient.commitStatements(staff('menu', a), [insert(3)]).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(refused instanceof BrigadeError && refused.code === 'TENANT_MOVING', String(refused));
    } finally {
      await release();
    }
    await impatient.commitStatements(staff('menu', a), [insert(4)]);
    assert.deepEqual(await rows(database.db.url, a), [4]);
  });

  test("an older release's move, which holds only the fence's old key, cannot record the placement: it fails whole (platform migration 0032)", async () => {
    const tenant = randomUUID();
    await admin.query(
      `with c as (insert into platform.cities (name) values ($2) returning id) insert into platform.restaurants (id, city_id, name) select $1, id, 'Old move' from c`,
      [tenant, `City ${tenant}`],
    );
    const place = `insert into platform.tenant_placements (tenant_id, database_url) values ($1, $2)`;
    const elsewhere = `postgres://elsewhere/${tenant}`;
    const client = await admin.connect();
    try {
      // The tenant's writes do not wait for the old key any more: such a move must not complete.
      await client.query(`select pg_advisory_lock(${OLD_FENCE})`, [tenant]);
      await client.query('begin');
      const refused = await client.query(place, [tenant, elsewhere]).then(
        () => undefined,
        (error: unknown) => error as { code?: string; message: string; hint?: string },
      );
      await client.query('rollback');
      assert.equal(refused?.code, '55000', String(refused));
      assert.match(refused.message, /only the fence of releases before platform migration 0032/);
      assert.match(refused.hint ?? '', /Nothing moved\. Run brigade tenants move from the release that migrated this database/);
      await client.query(`select pg_advisory_unlock(${OLD_FENCE})`, [tenant]);
    } finally {
      client.release();
    }
    // A move of this release holds both keys and records it.
    const move = await admin.connect();
    try {
      await takeTenantFence({ session: move, url: database.db.url, tenantId: tenant, reportEveryMs: 60_000, progress: () => undefined });
      await move.query(place, [tenant, elsewhere]);
      await releaseTenantFence(move, tenant);
    } finally {
      move.release();
    }
    assert.equal((await admin.query('select database_url from platform.tenant_placements where tenant_id = $1', [tenant])).rows[0]?.database_url, elsewhere);
  });
});
