import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { createEventStore } from '../../../src/platform/events/index.ts';
import { createSagaRegistry, defineSaga, startSaga } from '../../../src/platform/sagas/index.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { FLOW_MS } from '../../support/eventually.ts';
import { startTestPlatform } from '../../support/platform.ts';

async function count(url: string, sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql, values)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

test('a tenant move while its traffic runs loses no write, then serves from the new database', async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  try {
    const admin = await t.token('admin', { subject: 'ops' });
    const make = async (name: string) => (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } })).json().id as string;
    const moving = await make('Moving');
    const staying = await make('Staying');
    const uow = t.platform.deps.unitOfWork;
    const staff = (tenant: string) => ({ service: 'platform', tenantId: tenant, actor: { kind: 'staff' as const, id: randomUUID() } });
    const insert = (tenant: string) =>
      uow(staff(tenant), (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'w', $2)`, [tenant, `${randomUUID()}@example.com`]));
    await insert(staying);

    // Writers on the moving tenant run before, during and after the move.
    let stop = false;
    let written = 0;
    const failures: unknown[] = [];
    const writers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await insert(moving).then(
          () => written++,
          (e: unknown) => failures.push(e),
        );
      }
    });
    while (written < 20) await new Promise((r) => setTimeout(r, 5));

    // Forced interleaving: a transaction of the tenant is open when the move starts; the move must
    // wait for it (the fence), and its row must arrive in the new database.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let heldId = '';
    let heldPid = 0;
    const open = uow(staff(moving), async (tx) => {
      heldPid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      heldId = (await tx.query<{ id: string }>(`insert into platform.staff (tenant_id, name, email) values ($1, 'held', $2) returning id`, [moving, `${randomUUID()}@example.com`])).rows[0]?.id ?? '';
      await held;
    });
    while (heldId === '') await new Promise((r) => setTimeout(r, 5));
    const lines: string[] = [];
    let moved = false;
    let settled = false;
    const move = moveTenant({ tenantId: moving, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS, onProgress: (l) => lines.push(l) })
      .then((r) => {
        moved = true;
        return r;
      })
      .finally(() => (settled = true));
    move.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled
    // The move's session waits on a lock the open transaction holds (pg_stat_activity), not just "not done yet".
    const moveWaitsOnHeld = `select count(*) as n from pg_stat_activity
       where application_name = 'brigade-tenant-move' and datname = current_database() and wait_event_type = 'Lock' and $1 = any(pg_blocking_pids(pid))`;
    const deadline = Date.now() + FLOW_MS;
    while ((await count(t.db.url, moveWaitsOnHeld, [heldPid])) !== 1) {
      if (settled || Date.now() > deadline) {
        release();
        stop = true;
        await Promise.all(writers);
        assert.fail(`the move did not wait on the open transaction of the tenant (moved: ${moved}; last progress: ${lines.at(-1)})`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(moved, false, 'the move waits for the open transaction of the tenant');
    release();
    await open;
    const result = await move;
    const afterMove = written;
    while (written < afterMove + 20) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(writers);

    assert.deepEqual(failures, [], 'no write failed during the move');
    assert.ok((result.rows['platform.staff'] ?? 0) >= 21);
    assert.equal(await count(target.url, 'select count(*) as n from platform.staff where tenant_id = $1', [moving]), written + 1, 'every write is in the new database');
    assert.equal(await count(target.url, 'select count(*) as n from platform.staff where id = $1', [heldId]), 1);
    assert.equal(await count(t.db.url, 'select count(*) as n from platform.staff where tenant_id = $1', [moving]), 0, 'the old rows are gone');
    assert.equal(await count(t.db.url, 'select count(*) as n from platform.staff where tenant_id = $1', [staying]), 1, 'other tenants are untouched');

    // The HTTP API serves the moved tenant from its own database.
    const staffToken = await t.token('staff', { restaurantId: moving });
    const listed = await t.request({ url: `/v1/restaurants/${moving}/staff`, token: staffToken });
    assert.equal(listed.statusCode, 200);
    assert.equal(listed.json().staff.length, written + 1);
  } finally {
    await t.close();
    await target.drop();
  }
});

test('a restaurant with a menu, sagas and events moves whole: public reads, menu edits, new deadlines and appends then work in its database', async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  try {
    const admin = await t.token('admin', { subject: 'ops' });
    const seed = async (name: string) => {
      const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } })).json().id as string;
      const staff = await t.token('staff', { restaurantId: rid });
      const post = async (path: string, payload: object) => {
        const r = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/${path}`, token: staff, payload });
        assert.equal(r.statusCode, 201, r.body);
        return r.json().id as string;
      };
      const categoryId = await post('categories', { name: 'Pizza' });
      const itemId = await post('items', { categoryId, name: 'Margherita', description: 'tomato basil', price: 1000 });
      await post('modifier-groups', { itemId, name: 'Size', minChoices: 1, maxChoices: 1, modifiers: [{ name: 'Large', priceDelta: 300 }] });
      const patched = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1100 } });
      assert.equal(patched.statusCode, 200, patched.body);
      return { rid, staff, itemId };
    };
    const moving = await seed('Moving');
    const staying = await seed('Staying');

    // Sagas with deadlines (ids from the source's sequence) and an event stream of the moving tenant.
    const registry = createSagaRegistry({
      schema: 'payments',
      sagas: [defineSaga({ name: 'probe', initialState: {}, start: () => ({ state: {}, schedule: [{ name: 'expire', inMs: 3_600_000 }] }), steps: {}, on: {} })],
    });
    const uow = t.platform.deps.unitOfWork;
    const system = (service: string) => ({ service, tenantId: moving.rid, actor: { kind: 'system' as const, id: 'test' } });
    const startProbe = () => uow(system('payments'), (tx) => startSaga(tx, registry, { name: 'probe', input: {} }));
    await startProbe();
    await startProbe();
    const store = createEventStore({ schema: 'ordering' });
    const stream = `probe-${randomUUID()}`;
    await uow(system('ordering'), (tx) => store.append(tx, stream, [{ type: 'Probed', data: { n: 1 } }, { type: 'Probed', data: { n: 2 } }], 0));
    // Both test databases share one server and so one transaction counter; a busy shared server is
    // ahead of a new one: put the source's transaction ids ahead of anything the target has reached.
    await count(t.db.url, `with u as (update ordering.events set transaction_id = (pg_current_xact_id()::text::bigint + 1000000)::text::xid8 where tenant_id = $1 returning 1) select count(*) as n from u`, [moving.rid]);
    const historyRows = await count(t.db.url, 'select count(*) as n from menu.history where tenant_id = $1', [moving.rid]);
    const menuVersion = await count(t.db.url, 'select version as n from menu.menu_versions where tenant_id = $1', [moving.rid]);

    const result = await moveTenant({ tenantId: moving.rid, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    assert.equal(result.rows['menu.items'], 1);
    assert.equal(result.rows['payments.saga_deadlines'], 2);
    assert.equal(result.rows['ordering.events'], 2);
    assert.equal(await count(target.url, 'select count(*) as n from menu.history where tenant_id = $1', [moving.rid]), historyRows, 'the copy wrote no history of its own');
    assert.equal(await count(target.url, 'select version as n from menu.menu_versions where tenant_id = $1', [moving.rid]), menuVersion, 'the menu version (the ETag) is unchanged');

    // Public reads of the moved restaurant are served from its database; the other restaurant's as before.
    const menu = await t.request({ url: `/v1/restaurants/${moving.rid}/menu` });
    assert.equal(menu.statusCode, 200, menu.body);
    assert.equal(menu.headers.etag, `"menu-${menuVersion}"`);
    assert.deepEqual(
      (menu.json().categories as Array<{ items: Array<{ id: string; price: number }> }>).flatMap((c) => c.items.map((i) => [i.id, i.price])),
      [[moving.itemId, 1100]],
    );
    const item = await t.request({ url: `/v1/restaurants/${moving.rid}/menu/items/${moving.itemId}` });
    assert.deepEqual([item.statusCode, item.headers.etag], [200, '"2"'], item.body);
    const search = await t.request({ url: '/v1/menu/search?q=margherita&city=Lisbon' });
    assert.equal(search.statusCode, 200, search.body);
    assert.deepEqual((search.json().hits as Array<{ restaurantId: string }>).map((h) => h.restaurantId).sort(), [moving.rid, staying.rid].sort());

    // A staff edit after the move writes history again (the copy's setting ended with its transaction).
    const edit = await t.request({ method: 'PATCH', url: `/v1/restaurants/${moving.rid}/menu/items/${moving.itemId}`, token: moving.staff, headers: { 'if-match': '"2"' }, payload: { price: 1200 } });
    assert.equal(edit.statusCode, 200, edit.body);
    const history = await t.request({ url: `/v1/restaurants/${moving.rid}/menu/items/${moving.itemId}/history` });
    assert.equal(history.statusCode, 200, history.body);
    assert.deepEqual((history.json().versions as Array<{ version: number; price: number }>).map((v) => [v.version, v.price]), [[1, 1000], [2, 1100], [3, 1200]]);

    // New rows in the target draw ids past the copied ones, and the stream takes appends in order.
    await startProbe();
    assert.equal(await count(target.url, 'select count(distinct id) as n from payments.saga_deadlines where tenant_id = $1', [moving.rid]), 3);
    await uow(system('ordering'), (tx) => store.append(tx, stream, [{ type: 'Probed', data: { n: 3 } }], 2));
    assert.equal(
      await count(target.url, 'select count(*) as n from ordering.events where tenant_id = $1 and transaction_id < pg_current_xact_id()', [moving.rid]),
      3,
      'no event is ahead of the target server (global readers read only below its running transactions)',
    );
    assert.equal(await count(target.url, 'select count(distinct global_position) as n from ordering.events where tenant_id = $1', [moving.rid]), 3);
  } finally {
    await t.close();
    await target.drop();
  }
});
