import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { createDatabases, unitOfWork, type Databases, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { readPlacementCatalog } from '../../../src/platform/tenancy/readPlacementCatalog.ts';
import { restaurantDirectory } from '../../../src/services/platform/directory.ts';
import { useTestDatabase } from '../../support/db.ts';

const SECRET_URL = 'postgres://brigade:s3cret-password@dedicated.example:5432/brigade';

// A dedicated database's connection string holds its password: only the platform's own catalog
// readers (admin actors) and the fence (the owner, SECURITY DEFINER) may read it, never a service
// role acting for a tenant (platform migration 0022).
describe('placement connection strings are read by the fence and admins only', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  const tenant = randomUUID();
  const city = `Placed ${randomUUID()}`;

  before(async () => {
    dbs = createDatabases({ url: database.db.url, poolSize: 2 });
    database.defer(() => dbs.close());
    const owner = dbs.poolForUrl(database.db.url);
    await owner.query(`insert into platform.cities (name) values ($1)`, [city]);
    await owner.query(`insert into platform.restaurants (id, city_id, name) select $1, id, 'Apart' from platform.cities where name = $2`, [tenant, city]);
    await owner.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, $2)`, [tenant, SECRET_URL]);
  });

  /** What a bare read of the catalog and a call of the old fence give in `context`: rows, or the SQLSTATE. */
  const attempt = (context: UnitOfWorkContext, sql: string, values: unknown[] = []) =>
    unitOfWork(dbs.poolFor(context.service), context, async (tx) => (await tx.query<{ url: string }>(sql, values)).rows.map((r) => r.url)).then(
      (urls) => urls,
      (error: { code?: string }) => error.code ?? 'no code',
    );
  const readUrl = 'select database_url as url from platform.tenant_placements';
  const oldFence = 'select platform.tenant_fence($1::uuid) as url';

  test('brigade_platform acting as staff, courier or customer of the tenant reads no connection string', async () => {
    for (const kind of ['staff', 'courier', 'customer'] as const) {
      const context: UnitOfWorkContext = { service: 'platform', tenantId: tenant, actor: { kind, id: randomUUID() } };
      assert.deepEqual(await attempt(context, readUrl), [], kind);
      assert.deepEqual(await attempt(context, `${readUrl} where tenant_id = $1`, [tenant]), [], kind);
    }
  });

  test('brigade_menu (any other service role) with the tenant set reads it neither from the table nor through tenant_fence', async () => {
    const context: UnitOfWorkContext = { service: 'menu', tenantId: tenant, actor: { kind: 'staff', id: randomUUID() } };
    assert.equal(await attempt(context, readUrl), '42501', 'no grant on the table');
    assert.equal(await attempt(context, oldFence, [tenant]), '42883', 'the function is gone');
    assert.equal(await attempt({ service: 'platform', tenantId: tenant, actor: { kind: 'staff', id: randomUUID() } }, oldFence, [tenant]), '42883');
  });

  test('the readers that need it still read it: the fence, the placement catalog (the router\'s and the CLI\'s), the directory, an admin', async () => {
    assert.deepEqual(await attempt({ service: 'platform', actor: { kind: 'admin', id: 'ops' } }, `${readUrl} where tenant_id = $1`, [tenant]), [SECRET_URL]);
    assert.deepEqual(await readPlacementCatalog(dbs, 'test'), [SECRET_URL]);
    const placed = await restaurantDirectory((context, fn) => unitOfWork(dbs.poolFor(context.service), context, fn)).restaurantsIn(city);
    assert.deepEqual(placed.map(({ id, dedicated }) => ({ id, dedicated })), [{ id: tenant, dedicated: true }]);
    // The fence of a tenant transaction still finds the placement: BRMOV, the URL in DETAIL, which the router follows.
    const fenced = await unitOfWork(dbs.poolFor('menu'), { service: 'menu', tenantId: tenant, actor: { kind: 'staff', id: randomUUID() } }, (tx) =>
      tx.query(`select platform.enter_tenant($1::uuid, '')`, [tenant]),
    ).then(
      () => null,
      (error: { code?: string; detail?: string }) => [error.code, error.detail],
    );
    assert.deepEqual(fenced, ['BRMOV', SECRET_URL]);
  });
});
