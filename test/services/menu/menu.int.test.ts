import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { requireService } from '../../support/services.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { testEnv } from '../../support/env.ts';
import { customer, placeOrder, seedRestaurant, withTableHeld } from '../ordering/support.ts';
import { MAX_ORDER_TOTAL } from '../../../src/platform/money/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function seed(t: TestPlatform, name: string, city = 'Lisbon') {
  const admin = await t.token('admin', { subject: 'ops' });
  const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city, currency: 'EUR' } })).json().id as string;
  const staff = await t.token('staff', { restaurantId: rid });
  const category = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/categories`, token: staff, payload: { name: 'Pizza', position: 1 } });
  assert.equal(category.statusCode, 201, category.body);
  const item = await t.request({
    method: 'POST',
    url: `/v1/restaurants/${rid}/menu/items`,
    token: staff,
    payload: { categoryId: category.json().id, name: 'Margherita', description: 'tomato mozzarella basil', price: 1000 },
  });
  assert.equal(item.statusCode, 201, item.body);
  assert.equal(item.headers.etag, '"1"');
  return { rid, staff, categoryId: category.json().id as string, itemId: item.json().id as string };
}

/** Posts a modifier group Size (0–1 of one modifier, Large +300) on the item: the created answer. */
async function addSizeGroup(t: TestPlatform, rid: string, staff: string, itemId: string) {
  const group = await t.request({
    method: 'POST',
    url: `/v1/restaurants/${rid}/menu/modifier-groups`,
    token: staff,
    payload: { itemId, name: 'Size', minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Large', priceDelta: 300 }] },
  });
  assert.equal(group.statusCode, 201, group.body);
  return group;
}

const menuOf = async (t: TestPlatform, rid: string, query = '') => {
  const r = await t.request({ url: `/v1/restaurants/${rid}/menu${query}` });
  assert.equal(r.statusCode, 200, r.body);
  return { body: r.json() as { currency: string; categories: Array<{ name: string; items: Array<{ id: string; name: string; price: number; modifierGroups: unknown[] }> }> }, headers: r.headers };
};
const itemsOf = (menu: Awaited<ReturnType<typeof menuOf>>['body']) => menu.categories.flatMap((c) => c.items);

/**
 * Fires each of `fires` in turn while restaurant `rid`'s menu version row is locked by an open
 * transaction, the next once the one before waits on a lock, then runs `whileHeld` (all of them
 * waiting) and commits: PostgreSQL queues the waiters of a row, so the requests reach the row in the
 * order fired, whatever they locked before it.
 */
async function withMenuVersionHeld<T>(t: TestPlatform, rid: string, fires: ReadonlyArray<() => Promise<T>>, whileHeld?: () => Promise<void>): Promise<T[]> {
  const holder = new pg.Client({ connectionString: t.db.url });
  const watcher = new pg.Client({ connectionString: t.db.url });
  await holder.connect();
  await watcher.connect();
  try {
    await holder.query('begin');
    assert.equal((await holder.query(`select 1 from menu.menu_versions where tenant_id = $1 for update`, [rid])).rowCount, 1);
    const pending: Array<Promise<T>> = [];
    for (const fire of fires) {
      pending.push(fire());
      for (let i = 0; ; i++) {
        const { rows } = await watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        );
        if (rows[0]!.n >= pending.length) break;
        assert.ok(i < 2000, `request ${pending.length} never waited for the menu version row`);
        await sleep(5);
      }
    }
    await whileHeld?.();
    await holder.query('commit');
    return await Promise.all(pending);
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
    await watcher.end();
  }
}

/**
 * A PATCH of the item's price to 4242 whose COMMIT is held inside PostgreSQL (a deferred trigger waits
 * on an advisory lock the test holds) while the platform's connection is cut: the platform answers
 * DATABASE_UNAVAILABLE in phase `commit`, and the backend goes on to commit once the gate opens. A
 * read while the commit is held loads the old menu after the at-once eviction; the read after the
 * PATCH has answered must see the commit (the finding: it was served the old menu, from the cache,
 * until the TTL).
 */
async function lostCommitLandingLater(t: TestPlatform) {
  const { rid, staff, itemId } = await seed(t, `Late commit ${randomUUID().slice(0, 8)}`);
  assert.equal(itemsOf((await menuOf(t, rid)).body)[0]?.price, 1000);
  const acquired: pg.PoolClient[] = [];
  const pool = t.platform.databases.poolFor('menu');
  const onAcquire = (client: pg.PoolClient) => acquired.push(client);
  pool.on('acquire', onAcquire);
  const sql = new pg.Client({ connectionString: t.db.url });
  await sql.connect();
  const gate = 474_200;
  const lockWaits = async (kind: 'advisory' | 'menu') =>
    (
      await sql.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid() and (wait_event = 'advisory') = $1`,
        [kind === 'advisory'],
      )
    ).rows.map((r) => r.pid);
  try {
    await sql.query(`create function menu.gate_at_commit() returns trigger language plpgsql security definer set search_path = pg_catalog
                       as $$ begin if new.price = 4242 then perform pg_advisory_xact_lock_shared(${gate}); end if; return null; end $$`);
    await sql.query(`create constraint trigger gate_at_commit after update on menu.items deferrable initially deferred for each row execute function menu.gate_at_commit()`);
    await sql.query('select pg_advisory_lock($1)', [gate]);
    let answered = false;
    const patching = t
      .request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 4242 } })
      .finally(() => {
        answered = true;
      });
    let committing: number | undefined;
    for (let i = 0; committing === undefined; i++) {
      committing = (await lockWaits('advisory'))[0];
      assert.ok(i < 6000, 'the COMMIT never reached the gate');
      if (committing === undefined) await sleep(5);
    }
    // The connection drops (a network cut, a pooler restart): the client hears nothing more, and the
    // backend, busy in its COMMIT, does not notice.
    const client = acquired.find((c) => (c as pg.PoolClient & { processID?: number }).processID === committing);
    assert.ok(client !== undefined, 'no client of the pool runs the held COMMIT');
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    // Once the platform has evicted at once (before: the PATCH answered 503; now: it waits for the
    // menu's lock, which the held COMMIT keeps), a read loads the menu the database still shows.
    for (let i = 0; !answered && (await lockWaits('menu')).length === 0; i++) {
      assert.ok(i < 6000, 'the PATCH neither answered nor waited for the held COMMIT');
      await sleep(5);
    }
    const between = await menuOf(t, rid);
    assert.deepEqual([between.headers['x-cache'], itemsOf(between.body)[0]?.price], ['miss', 1000]);
    await sql.query('select pg_advisory_unlock($1)', [gate]);
    const patched = await patching;
    assert.deepEqual([patched.statusCode, patched.json().code], [503, 'DATABASE_UNAVAILABLE'], patched.body);
    assert.match(patched.json().detail, /while the work was being committed/);
    // The held backend ends once its COMMIT is done (before the fix, the PATCH had answered before that).
    for (let i = 0; (await sql.query('select 1 from pg_stat_activity where pid = $1', [committing])).rowCount !== 0; i++) {
      assert.ok(i < 6000, 'the backend of the lost COMMIT never ended');
      await sleep(5);
    }
    assert.equal((await sql.query<{ price: number }>('select price from menu.items where id = $1', [itemId])).rows[0]?.price, 4242, 'the lost COMMIT committed');
    // Before, the read in between had been stored under the at-once eviction's generation: 1000, hit, until the TTL.
    const read = await menuOf(t, rid);
    assert.deepEqual([read.headers['x-cache'], itemsOf(read.body)[0]?.price], ['miss', 4242]);
  } finally {
    pool.off('acquire', onAcquire);
    await sql.query('select pg_advisory_unlock_all()').catch(() => undefined);
    await sql.query('drop trigger if exists gate_at_commit on menu.items');
    await sql.query('drop function if exists menu.gate_at_commit()');
    await sql.end();
  }
}

describe('menu', () => {
  let t: TestPlatform;
  before(async () => {
    t = await startTestPlatform();
  });
  after(async () => {
    await t.close();
  });

  test('composite menu: categories, items, modifier groups with min/max, modifiers with price deltas, in minor units', async () => {
    const { rid, staff, itemId } = await seed(t, 'Composite');
    const group = await t.request({
      method: 'POST',
      url: `/v1/restaurants/${rid}/menu/modifier-groups`,
      token: staff,
      payload: { itemId, name: 'Size', minChoices: 1, maxChoices: 1, modifiers: [{ name: 'Small', priceDelta: -200 }, { name: 'Large', priceDelta: 300 }] },
    });
    assert.equal(group.statusCode, 201, group.body);
    const bad = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/modifier-groups`, token: staff, payload: { itemId, name: 'Bad', minChoices: 3, maxChoices: 2, modifiers: [] } });
    assert.deepEqual([bad.statusCode, bad.json().code], [422, 'INVALID_MENU_VALUE']);
    const { body } = await menuOf(t, rid);
    assert.equal(body.currency, 'EUR');
    const item = itemsOf(body)[0];
    assert.deepEqual(item?.modifierGroups, [
      {
        id: group.json().id,
        name: 'Size',
        minChoices: 1,
        maxChoices: 1,
        modifiers: [
          { id: (group.json().modifiers as Array<{ id: string }>)[0]?.id, name: 'Small', priceDelta: -200 },
          { id: (group.json().modifiers as Array<{ id: string }>)[1]?.id, name: 'Large', priceDelta: 300 },
        ],
      },
    ]);
    const sold = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { soldOut: true } });
    assert.equal(sold.json().soldOut, true);
    // A PATCH that would put minChoices above the stored maxChoices: the same 422 as on create, naming the field.
    const narrowed = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/modifier-groups/${group.json().id}`, token: staff, headers: { 'if-match': '"1"' }, payload: { minChoices: 3 } });
    assert.deepEqual([narrowed.statusCode, narrowed.json().code, narrowed.json().field, narrowed.json().detail], [422, 'INVALID_MENU_VALUE', 'body.minChoices', 'minChoices (3) exceeds maxChoices (1)'], narrowed.body);
  });

  test("re-saving a modifier group keeps the ids of the modifiers it keeps (same name and price), so an order chosen from the menu before still places; one it dropped says to reload the menu", async () => {
    const { rid, staff, itemId } = await seed(t, 'Resaved');
    const created = await t.request({
      method: 'POST',
      url: `/v1/restaurants/${rid}/menu/modifier-groups`,
      token: staff,
      payload: { itemId, name: 'Size', minChoices: 1, maxChoices: 1, modifiers: [{ name: 'Small', priceDelta: -200 }, { name: 'Large', priceDelta: 300 }] },
    });
    assert.equal(created.statusCode, 201, created.body);
    const [small, large] = created.json().modifiers as Array<{ id: string; name: string; priceDelta: number }>;
    // Staff save the group again: Large costs more now, XL is new, Small is as it was and moves to the end.
    const saved = await t.request({
      method: 'PATCH',
      url: `/v1/restaurants/${rid}/menu/modifier-groups/${created.json().id as string}`,
      token: staff,
      headers: { 'if-match': '"1"' },
      payload: { modifiers: [{ name: 'Large', priceDelta: 350 }, { name: 'XL', priceDelta: 500 }, { name: 'Small', priceDelta: -200 }] },
    });
    assert.equal(saved.statusCode, 200, saved.body);
    const after = saved.json().modifiers as Array<{ id: string; name: string; priceDelta: number }>;
    assert.deepEqual(after.map((m) => [m.name, m.priceDelta]), [['Large', 350], ['XL', 500], ['Small', -200]], 'in the order sent');
    assert.equal(after[2]!.id, small!.id, 'Small kept its id (before, every modifier got a new one)');
    assert.notEqual(after[0]!.id, large!.id, 'Large changed its price: a new modifier');
    const customer = await t.token('customer', { subject: randomUUID() });
    const order = (modifierIds: string[]) =>
      t.request({ method: 'POST', url: '/v1/orders', token: customer, headers: { 'idempotency-key': randomUUID() }, payload: { restaurantId: rid, deliveryAddress: 'Rua 1, Lisboa', lines: [{ itemId, quantity: 1, modifierIds }] } });
    const kept = await order([small!.id]);
    assert.deepEqual([kept.statusCode, kept.json().total], [201, 800], kept.body);
    const dropped = await order([large!.id]);
    assert.deepEqual([dropped.statusCode, dropped.json().code, dropped.json().modifierId], [422, 'MODIFIER_CHOICE_INVALID', large!.id], dropped.body);
    assert.match(dropped.json().detail, /the menu changed since you loaded it.*: reload the menu and choose again$/);
  });

  test('optimistic concurrency: 428 without If-Match, 412 with the current item when stale', async () => {
    const { rid, staff, itemId } = await seed(t, 'Versions');
    const url = `/v1/restaurants/${rid}/menu/items/${itemId}`;
    const missing = await t.request({ method: 'PATCH', url, token: staff, payload: { price: 1100 } });
    assert.deepEqual([missing.statusCode, missing.json().code], [428, 'PRECONDITION_REQUIRED']);
    const noMatchDelete = await t.request({ method: 'DELETE', url, token: staff });
    assert.equal(noMatchDelete.statusCode, 428);
    const ok = await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1100 } });
    assert.deepEqual([ok.statusCode, ok.headers.etag, ok.json().price], [200, '"2"', 1100]);
    const stale = await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 900 } });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().code, 'CONCURRENCY_CONFLICT');
    assert.equal(stale.json().currentVersion, 2);
    assert.equal(stale.json().current.price, 1100);
    // The current version as an ETag too, and every version in the body a number (before: no ETag, "1" and "2" as strings).
    assert.deepEqual([stale.headers.etag, stale.json().expected, stale.json().actual], ['"2"', 1, 2]);
  });

  test("a modifier group's PATCH from a stale version is a 412 with the current group, even when its range would not fit the current row", async () => {
    const { rid, staff, itemId } = await seed(t, 'StaleGroup');
    const created = await t.request({
      method: 'POST',
      url: `/v1/restaurants/${rid}/menu/modifier-groups`,
      token: staff,
      payload: { itemId, name: 'Size', minChoices: 0, maxChoices: 2, modifiers: [{ name: 'Small', priceDelta: 0 }, { name: 'Large', priceDelta: 300 }] },
    });
    assert.equal(created.statusCode, 201, created.body);
    const url = `/v1/restaurants/${rid}/menu/modifier-groups/${created.json().id}`;
    const narrowed = await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { maxChoices: 1 } });
    assert.equal(narrowed.statusCode, 200, narrowed.body);
    // Someone else's version 1 still said maxChoices 2: minChoices 2 fits what they saw, not the current row.
    const stale = await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { minChoices: 2 } });
    assert.deepEqual([stale.statusCode, stale.json().code, stale.json().currentVersion, stale.json().current?.maxChoices], [412, 'CONCURRENCY_CONFLICT', 2, 1], stale.body);
    const current = await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"2"' }, payload: { minChoices: 2 } });
    assert.deepEqual([current.statusCode, current.json().code, current.json().field], [422, 'INVALID_MENU_VALUE', 'body.minChoices'], 'at the current version the range is checked');
    const gone = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/modifier-groups/${randomUUID()}`, token: staff, headers: { 'if-match': '"1"' }, payload: { minChoices: 1 } });
    assert.equal(gone.statusCode, 404, gone.body);
  });

  test('two staff edit the same item from the same version at once, forced to both be inside before either updates: one wins, one gets 412, nothing is lost', async () => {
    const { rid, staff, itemId } = await seed(t, 'Race');
    const url = `/v1/restaurants/${rid}/menu/items/${itemId}`;
    const other = await t.token('staff', { restaurantId: rid });
    // A share lock on menu.items lets reads through and holds both UPDATEs until both requests wait on it.
    const [a, b] = await withTableHeld(t, 'menu.items', 2, () =>
      Promise.all([
        t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1500 } }),
        t.request({ method: 'PATCH', url, token: other, headers: { 'if-match': '"1"' }, payload: { name: 'Margherita DOP' } }),
      ]),
    );
    const statuses = [a.statusCode, b.statusCode].sort();
    assert.deepEqual(statuses, [200, 412], `${a.body} ${b.body}`);
    const [winner, loser] = a.statusCode === 200 ? [a, b] : [b, a];
    assert.equal(winner.headers.etag, '"2"');
    assert.deepEqual([loser.json().code, loser.json().currentVersion], ['CONCURRENCY_CONFLICT', 2]);
    assert.deepEqual([loser.json().current.price, loser.json().current.name], [winner.json().price, winner.json().name], 'the 412 carries the winner’s row');
    const reread = await t.request({ url, token: staff });
    assert.equal(reread.headers.etag, '"2"');
    const winnerChange = winner === a ? { price: 1500, name: 'Margherita' } : { price: 1000, name: 'Margherita DOP' };
    assert.deepEqual([reread.json().price, reread.json().name], [winnerChange.price, winnerChange.name], 'the winner’s change alone stands');
    // The loser retries on the version its 412 carried, and succeeds without undoing the winner.
    const loserBody = loser === a ? { price: 1500 } : { name: 'Margherita DOP' };
    const retry = await t.request({ method: 'PATCH', url, token: loser === a ? staff : other, headers: { 'if-match': `"${loser.json().currentVersion}"` }, payload: loserBody });
    assert.equal(retry.statusCode, 200);
    assert.deepEqual([retry.json().price, retry.json().name, retry.json().version], [1500, 'Margherita DOP', 3]);
  });

  test('writes to an item and to its parent (its category, or its modifier group) at once, forced to meet at the menu version: each waits its turn, no deadlock (before: 500)', async () => {
    // Each write locked its own row, then (the history trigger) the restaurant's menu version, then the
    // parent of its row; a write to that parent locked the parent, then the menu version: the opposite order.
    const pairs = [
      ['item PATCH, category PATCH', [['PATCH', 'item', { price: 1100 }], ['PATCH', 'category', { name: 'Pies' }]]],
      ['modifier group PATCH, item PATCH', [['PATCH', 'group', { name: 'Crust' }], ['PATCH', 'item', { price: 1100 }]]],
      ['modifier group DELETE, item DELETE', [['DELETE', 'group', undefined], ['DELETE', 'item', undefined]]],
    ] as const;
    const statuses: Record<string, number[]> = {};
    const bodies: string[] = [];
    for (const [what, writes] of pairs) {
      const { rid, staff, categoryId, itemId } = await seed(t, `Lock order ${what}`);
      const group = await addSizeGroup(t, rid, staff, itemId);
      const urls = { item: `items/${itemId}`, category: `categories/${categoryId}`, group: `modifier-groups/${group.json().id as string}` };
      const answers = await withMenuVersionHeld(
        t,
        rid,
        writes.map(([method, entity, payload]) => () =>
          t.request({ method, url: `/v1/restaurants/${rid}/menu/${urls[entity]}`, token: staff, headers: { 'if-match': '"1"' }, ...(payload === undefined ? {} : { payload }) }),
        ),
      );
      statuses[what] = answers.map((a) => a.statusCode);
      bodies.push(...answers.map((a) => a.body));
    }
    assert.deepEqual(statuses, Object.fromEntries(pairs.map(([what]) => [what, [200, 200]])), bodies.join('\n'));
  });

  test("a tenant move's setting that skips the history trigger does nothing for the service's own role", async () => {
    const { rid } = await seed(t, 'NoSkip');
    const staff = { service: 'menu', tenantId: rid, actor: { kind: 'staff' as const, id: randomUUID() } };
    const history = await t.platform.deps.unitOfWork(staff, async (tx) => {
      await tx.query(`select set_config('brigade.tenant_copy', 'on', true)`);
      const id = (await tx.query<{ id: string }>(`insert into menu.categories (tenant_id, name) values ($1, 'Sides') returning id`, [rid])).rows[0]?.id;
      return (await tx.query(`select 1 from menu.history where tenant_id = $1 and id = $2`, [rid, id])).rowCount;
    });
    assert.equal(history, 1);
  });

  test('a deleted item comes back re-priced (or sold out) in its restore: one write, one version, never live at its old price in between', async () => {
    const r = await seedRestaurant(t, `Restore ${randomUUID().slice(0, 8)}`);
    const url = `/v1/restaurants/${r.rid}/menu/items/${r.cola}`;
    const send = (method: 'POST' | 'PATCH', path: string, version: number, payload?: Record<string, unknown>) =>
      t.request({ method, url: path, token: r.staff, headers: { 'if-match': `"${version}"` }, ...(payload === undefined ? {} : { payload }) });
    assert.equal((await t.request({ method: 'DELETE', url, token: r.staff, headers: { 'if-match': '"1"' } })).statusCode, 200);
    // A change of the deleted item is still refused, and now says how to bring it back changed.
    const patched = await send('PATCH', url, 2, { price: 400 });
    assert.deepEqual([patched.statusCode, patched.json().code], [422, 'MENU_ENTITY_DELETED'], patched.body);
    assert.match(patched.json().detail, /restore it with the change in the restore's body \(POST …\/[0-9a-f-]+\/restore with \{"price": …\}\)/);
    // Fields that break a rule roll the whole restore back: still deleted, still version 2.
    assert.deepEqual([(await send('POST', `${url}/restore`, 2, { price: -1 })).json().field, (await send('POST', `${url}/restore`, 2, { junk: 1 })).statusCode], ['body.price', 400]);
    const emptyName = await send('POST', `${url}/restore`, 2, { price: 400, name: '' });
    assert.equal(emptyName.statusCode, 400, emptyName.body);
    assert.deepEqual([(await t.request({ url })).json().version, (await t.request({ url })).json().deletedAt !== null], [2, true]);

    const restored = await send('POST', `${url}/restore`, 2, { price: 400, soldOut: false });
    assert.equal(restored.statusCode, 200, restored.body);
    assert.deepEqual([restored.headers.etag, restored.json().price, restored.json().deletedAt, restored.json().soldOut], ['"3"', 400, null, false]);
    // One version: deleted at the old price, then live at the new one; never live at 250 after the delete.
    const history = (await t.request({ url: `${url}/history` })).json().versions as Array<{ version: number; price: number; deleted: boolean }>;
    assert.deepEqual(history.map((v) => [v.version, v.price, v.deleted]), [[1, 250, false], [2, 250, true], [3, 400, false]]);
    const c = await customer(t);
    const order = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(order.statusCode, 201, order.body);
    assert.equal(order.json().lines[0].unitPrice, 400);

    // Back sold out: on the menu, not orderable.
    assert.equal((await t.request({ method: 'DELETE', url, token: r.staff, headers: { 'if-match': '"3"' } })).statusCode, 200);
    const soldOut = await send('POST', `${url}/restore`, 4, { soldOut: true });
    assert.deepEqual([soldOut.statusCode, soldOut.json().soldOut, soldOut.json().price], [200, true, 400], soldOut.body);
    // A restore's price gets the checks a PATCH's does: Margherita at 100 with Small at −200 would cost
    // less than nothing, so the restore is refused and rolled back.
    const pizzaUrl = `/v1/restaurants/${r.rid}/menu/items/${r.pizza}`;
    assert.equal((await t.request({ method: 'DELETE', url: pizzaUrl, token: r.staff, headers: { 'if-match': '"1"' } })).statusCode, 200);
    const cheap = await send('POST', `${pizzaUrl}/restore`, 2, { price: 100 });
    assert.deepEqual([cheap.statusCode, cheap.json().code], [422, 'MENU_PRICE_BELOW_ZERO'], cheap.body);
    assert.deepEqual([(await t.request({ url: pizzaUrl })).json().version, (await t.request({ url: pizzaUrl })).json().deletedAt !== null], [2, true]);
    assert.equal((await send('POST', `${pizzaUrl}/restore`, 2)).statusCode, 200, 'a restore without a body, as before');
    // A category comes back renamed the same way; a modifier group's restore still takes no fields.
    const categoryId = restored.json().categoryId as string;
    const categoryUrl = `/v1/restaurants/${r.rid}/menu/categories/${categoryId}`;
    assert.equal((await t.request({ method: 'DELETE', url: categoryUrl, token: r.staff, headers: { 'if-match': '"1"' } })).statusCode, 200);
    const renamed = await send('POST', `${categoryUrl}/restore`, 2, { name: 'Drinks' });
    assert.deepEqual([renamed.statusCode, renamed.json().name, renamed.json().deletedAt], [200, 'Drinks', null], renamed.body);
    const group = (await t.request({ url: `/v1/restaurants/${r.rid}/menu` })).json().categories[0].items.find((i: { id: string }) => i.id === r.pizza).modifierGroups[0].id as string;
    const groupBody = await send('POST', `/v1/restaurants/${r.rid}/menu/modifier-groups/${group}/restore`, 1, { name: 'Sizes' });
    assert.equal(groupBody.statusCode, 400, groupBody.body);
  });

  test('soft delete then restore: gone from the live menu and search, still resolvable, back after restore', async () => {
    const { rid, staff, itemId } = await seed(t, 'Soft', 'Faro');
    const url = `/v1/restaurants/${rid}/menu/items/${itemId}`;
    const search = async () => (await t.request({ url: '/v1/menu/search?q=margherita&city=Faro' })).json().hits as Array<{ itemId: string }>;
    assert.deepEqual((await search()).map((h) => h.itemId), [itemId]);
    const deleted = await t.request({ method: 'DELETE', url, token: staff, headers: { 'if-match': '"1"' } });
    assert.equal(deleted.statusCode, 200);
    assert.ok(deleted.json().deletedAt);
    assert.deepEqual(itemsOf((await menuOf(t, rid)).body), []);
    assert.deepEqual(await search(), []);
    const stillThere = await t.request({ url });
    assert.deepEqual([stillThere.statusCode, stillThere.json().name], [200, 'Margherita'], 'a deleted item still resolves (orders, history)');
    // What does not fit a deleted item is refused at its current version, and leaves it at that version.
    for (const [method, path, payload, code, next] of [
      ['PATCH', url, { price: 1 }, 'MENU_ENTITY_DELETED', /restore it with the change in the restore's body/],
      ['DELETE', url, undefined, 'MENU_ENTITY_DELETED', /restore it first/],
    ] as const) {
      const refused = await t.request({ method, url: path, token: staff, headers: { 'if-match': '"2"' }, ...(payload === undefined ? {} : { payload }) });
      assert.deepEqual([refused.statusCode, refused.json().code], [422, code], refused.body);
      assert.match(refused.json().detail, next);
    }
    assert.equal((await t.request({ url })).json().version, 2, 'the refused writes bumped no version');
    const restored = await t.request({ method: 'POST', url: `${url}/restore`, token: staff, headers: { 'if-match': '"2"' } });
    assert.deepEqual([restored.statusCode, restored.json().deletedAt], [200, null]);
    const again = await t.request({ method: 'POST', url: `${url}/restore`, token: staff, headers: { 'if-match': '"3"' } });
    assert.deepEqual([again.statusCode, again.json().code], [422, 'MENU_ENTITY_NOT_DELETED'], 'a live item has nothing to restore');
    const stale = await t.request({ method: 'POST', url: `${url}/restore`, token: staff, headers: { 'if-match': '"2"' } });
    assert.equal(stale.statusCode, 412, 'a stale version is still 412');
    assert.deepEqual(itemsOf((await menuOf(t, rid)).body).map((i) => i.id), [itemId]);
    assert.deepEqual((await search()).map((h) => h.itemId), [itemId]);
  });

  test('AS OF: the menu read at three instants, including an item deleted since', async () => {
    const { rid, staff, itemId } = await seed(t, 'Temporal');
    const url = `/v1/restaurants/${rid}/menu/items/${itemId}`;
    await sleep(20);
    const t1 = new Date().toISOString();
    await sleep(20);
    await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1250, name: 'Margherita Grande' } });
    await sleep(20);
    const t2 = new Date().toISOString();
    await sleep(20);
    await t.request({ method: 'DELETE', url, token: staff, headers: { 'if-match': '"2"' } });
    await sleep(20);
    const t3 = new Date().toISOString();
    const at = async (instant: string) => itemsOf((await menuOf(t, rid, `?asOf=${encodeURIComponent(instant)}`)).body).map((i) => [i.name, i.price]);
    assert.deepEqual(await at(t1), [['Margherita', 1000]]);
    assert.deepEqual(await at(t2), [['Margherita Grande', 1250]], 'the item deleted since is in the menu as it stood');
    assert.deepEqual(await at(t3), []);
    const history = (await t.request({ url: `${url}/history` })).json().versions as Array<{ version: number; price: number; deleted: boolean; validTo: string | null }>;
    assert.deepEqual(history.map((v) => [v.version, v.price, v.deleted]), [[1, 1000, false], [2, 1250, false], [3, 1250, true]]);
    assert.equal(history.at(-1)?.validTo, null);
    assert.equal((await t.request({ url: `/v1/restaurants/${rid}/menu?asOf=yesterday` })).statusCode, 400);
  });

  test("AS OF a version's own validFrom (to the microsecond, as /history gives it) reads that version, not the one before", async () => {
    const { rid, staff, itemId } = await seed(t, 'Microseconds');
    const url = `/v1/restaurants/${rid}/menu/items/${itemId}`;
    const patched = await t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1250 } });
    assert.equal(patched.statusCode, 200, patched.body);
    const versions = (await t.request({ url: `${url}/history` })).json().versions as Array<{ version: number; validFrom: string; validTo: string | null }>;
    // The instants /history gives are the stored ones, microseconds included (they were cut to milliseconds).
    const stored = await t.platform.deps.unitOfWork({ service: 'menu', tenantId: rid, actor: { kind: 'public', id: 'test' }, readOnly: true }, (tx) =>
      tx.query<{ same: boolean; n: number }>(
        `select bool_and(h.valid_from = (v->>'validFrom')::timestamptz and h.valid_to = coalesce((v->>'validTo')::timestamptz, 'infinity')) as same, count(*)::int as n
           from menu.history h join jsonb_array_elements($2::jsonb) v on (v->>'version')::int = h.version
          where h.entity = 'item' and h.id = $1`,
        [itemId, JSON.stringify(versions)],
      ),
    );
    assert.deepEqual(stored.rows[0], { same: true, n: 2 }, JSON.stringify(versions));
    const at = async (instant: string) => itemsOf((await menuOf(t, rid, `?asOf=${encodeURIComponent(instant)}`)).body).map((i) => i.price);
    assert.deepEqual(await at(versions[1]!.validFrom), [1250], "version 2's own start reads version 2");
    assert.deepEqual(await at(versions[0]!.validFrom), [1000]);
    assert.equal((await t.request({ url: `/v1/restaurants/${rid}/menu?asOf=0000-01-01T00:00:00Z` })).statusCode, 400, 'a year PostgreSQL has not is a 400, not a 500');
  });

  test('a menu document is labelled with the version of its own content, even when a change commits while it is read', async () => {
    const { rid, itemId } = await seed(t, 'Snapshot');
    const holder = new pg.Client({ connectionString: t.db.url });
    const watcher = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    await watcher.connect();
    try {
      // A change, uncommitted, with the modifiers table held: the load reads the version (before, a
      // statement of its own that no lock stops), then waits for the document until the change commits.
      await holder.query('begin');
      await holder.query(`update menu.items set price = 4242 where id = $1`, [itemId]);
      await holder.query('lock table menu.modifiers in access exclusive mode');
      const pending = t.request({ url: `/v1/restaurants/${rid}/menu` });
      for (let i = 0; ; i++) {
        const { rows } = await watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%json_build_object%'`,
        );
        if (rows[0]!.n > 0) break;
        assert.ok(i < 6000, 'the menu load never waited for the held table');
        await sleep(5);
      }
      await holder.query('commit');
      const read = await pending;
      assert.equal(read.statusCode, 200, read.body);
      const current = Number((await watcher.query<{ version: string }>(`select version from menu.menu_versions where tenant_id = $1`, [rid])).rows[0]!.version);
      const doc = read.json() as { version: number };
      assert.deepEqual([doc.version, itemsOf(read.json()).map((i) => i.price)], [current, [4242]], 'the new price under the old version, before');
      assert.equal(read.headers.etag, `"menu-${current}"`);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
      await watcher.end();
    }
  });

  test('staff of another restaurant get 404 on every write, with a bad body too (never the 400 that would tell its rules); reads stay public', async () => {
    const a = await seed(t, 'Tenant A');
    const b = await seed(t, 'Tenant B');
    const url = `/v1/restaurants/${a.rid}/menu/items/${a.itemId}`;
    for (const request of [
      { method: 'PATCH' as const, url, payload: { price: 1 } },
      { method: 'PATCH' as const, url, payload: { price: 'free', junk: true } },
      { method: 'DELETE' as const, url },
      { method: 'POST' as const, url: `/v1/restaurants/${a.rid}/menu/categories`, payload: { name: 'X' } },
      { method: 'POST' as const, url: `/v1/restaurants/${a.rid.toUpperCase()}/menu/categories`, payload: {} },
    ]) {
      const r = await t.request({ ...request, token: b.staff, headers: { 'if-match': '"1"' } });
      assert.equal(r.statusCode, 404, `${request.method} ${request.url}`);
    }
    // An item of B addressed under A's id (A's staff) is not found either.
    const cross = await t.request({ method: 'PATCH', url: `/v1/restaurants/${a.rid}/menu/items/${b.itemId}`, token: a.staff, headers: { 'if-match': '"1"' }, payload: { price: 1 } });
    assert.equal(cross.statusCode, 404);
    const customer = await t.token('customer');
    assert.equal((await t.request({ method: 'PATCH', url, token: customer, headers: { 'if-match': '"1"' }, payload: { price: 1 } })).statusCode, 403);
    assert.equal((await t.request({ url: `/v1/restaurants/${randomUUID()}/menu` })).statusCode, 404);
  });

  test('cache-aside: a hit after a miss; a committed change evicts, so the next read has the new price', async () => {
    const { rid, staff, itemId } = await seed(t, 'Cached');
    const first = await menuOf(t, rid);
    const second = await menuOf(t, rid);
    assert.equal(first.headers['x-cache'], 'miss');
    assert.equal(second.headers['x-cache'], 'hit-memory');
    assert.equal(second.headers.etag, first.headers.etag);
    const notModified = await t.request({ url: `/v1/restaurants/${rid}/menu`, headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(notModified.statusCode, 304);
    await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 777 } });
    const third = await menuOf(t, rid);
    assert.equal(third.headers['x-cache'], 'miss');
    assert.equal(itemsOf(third.body)[0]?.price, 777);
    assert.notEqual(third.headers.etag, first.headers.etag);
  });
  test("If-None-Match as RFC 9110 compares it (weakly): a weak tag, a list holding the menu's tag, or * get 304; another tag the menu", async () => {
    const { rid } = await seed(t, 'Conditional');
    const url = `/v1/restaurants/${rid}/menu`;
    const etag = String((await menuOf(t, rid)).headers.etag);
    const answers: Record<string, number> = {};
    for (const header of [etag, `W/${etag}`, `"menu-0", ${etag}`, `W/"menu-0",W/${etag}`, '*', '"menu-0"', `W/"${etag}"`]) {
      answers[header] = (await t.request({ url, headers: { 'if-none-match': header } })).statusCode;
    }
    assert.deepEqual(answers, { [etag]: 304, [`W/${etag}`]: 304, [`"menu-0", ${etag}`]: 304, [`W/"menu-0",W/${etag}`]: 304, '*': 304, '"menu-0"': 200, [`W/"${etag}"`]: 200 });
    // With the cache off (CACHE_TTL_SECONDS=0) the menu is read each time, and the same tags get 304 (before, never).
    const uncached = await startTestPlatform({ CACHE_TTL_SECONDS: '0' });
    try {
      const other = await seed(uncached, 'Uncached');
      const first = await uncached.request({ url: `/v1/restaurants/${other.rid}/menu` });
      assert.deepEqual([first.statusCode, first.headers['x-cache']], [200, 'off']);
      const again = await uncached.request({ url: `/v1/restaurants/${other.rid}/menu`, headers: { 'if-none-match': `W/${String(first.headers.etag)}` } });
      assert.deepEqual([again.statusCode, again.headers.etag, again.body], [304, first.headers.etag, '']);
      const asOf = await uncached.request({ url: `/v1/restaurants/${other.rid}/menu?asOf=${encodeURIComponent(new Date().toISOString())}`, headers: { 'if-none-match': '*' } });
      assert.equal(asOf.statusCode, 200, 'a menu as of an instant has no ETag: nothing to match');
    } finally {
      await uncached.close();
    }
  });
  test('a menu larger than an eighth of CACHE_MAX_BYTES is served uncached, and a small one is still cached beside it', async () => {
    const budgeted = await startTestPlatform({ CACHE_MAX_BYTES: '65536' });
    try {
      const big = await seed(budgeted, 'Big menu');
      for (let i = 0; i < 5; i++) {
        const item = await budgeted.request({
          method: 'POST',
          url: `/v1/restaurants/${big.rid}/menu/items`,
          token: big.staff,
          payload: { categoryId: big.categoryId, name: `Dish ${i}`, description: 'd'.repeat(2000), price: 900 },
        });
        assert.equal(item.statusCode, 201, item.body);
      }
      const small = await seed(budgeted, 'Small menu');
      const sources = async (rid: string) => {
        const answers = [];
        for (let i = 0; i < 2; i++) {
          const r = await budgeted.request({ url: `/v1/restaurants/${rid}/menu` });
          assert.equal(r.statusCode, 200, r.body);
          answers.push([r.body.length > 8192, r.headers['x-cache']]);
        }
        return answers;
      };
      // The small menu first, until it is a hit: the cache's eviction LISTEN is up (before it is, every read is a miss).
      for (let i = 0; (await budgeted.request({ url: `/v1/restaurants/${small.rid}/menu` })).headers['x-cache'] !== 'hit-memory'; i++) {
        assert.ok(i < 200, 'the small menu is never cached');
        await sleep(10);
      }
      assert.deepEqual(await sources(big.rid), [[true, 'miss'], [true, 'miss']], 'over 8 KiB: read each time (before: a hit)');
      assert.deepEqual(await sources(small.rid), [[false, 'hit-memory'], [false, 'hit-memory']], 'the big one pushed the small one out of nothing');
    } finally {
      await budgeted.close();
    }
  });

  test('a write whose COMMIT lost its connection (saved or not, nobody knows) still evicts the cached menu', async () => {
    const { rid, staff, itemId } = await seed(t, 'Lost commit');
    await menuOf(t, rid);
    assert.equal((await menuOf(t, rid)).headers['x-cache'], 'hit-memory');
    // The fault: a deferred trigger, run by COMMIT, ends its own session, so the COMMIT's answer never comes.
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    try {
      await sql.query(`create function menu.end_session_at_commit() returns trigger language plpgsql security definer set search_path = pg_catalog
                         as $$ begin perform pg_terminate_backend(pg_backend_pid()); return null; end $$`);
      await sql.query(`create constraint trigger end_session_at_commit after update on menu.items deferrable initially deferred for each row execute function menu.end_session_at_commit()`);
      const patched = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1234 } });
      assert.deepEqual([patched.statusCode, patched.json().code], [503, 'DATABASE_UNAVAILABLE'], patched.body);
      assert.match(patched.json().detail, /while the work was being committed/);
    } finally {
      await sql.query('drop trigger if exists end_session_at_commit on menu.items');
      await sql.query('drop function if exists menu.end_session_at_commit()');
      await sql.end();
    }
    // Before, the cached menu stayed until its TTL, whatever the COMMIT had done.
    assert.equal((await menuOf(t, rid)).headers['x-cache'], 'miss');
  });

  test('a write whose COMMIT lost its connection and commits later, after the at-once eviction, is not hidden by a read in between: the write waits for the commit to end and evicts again (in-process cache)', async () => {
    await lostCommitLandingLater(t);
  });

  test('POST …/menu/refresh (staff or admin) drops the cached menu on every instance after an edit made outside the API, and announces MenuChanged', async () => {
    const { rid, staff, itemId } = await seed(t, 'Edited in SQL');
    await menuOf(t, rid);
    assert.equal((await menuOf(t, rid)).headers['x-cache'], 'hit-memory');
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    try {
      await sql.query('update menu.items set price = 4321 where id = $1', [itemId]);
      const outbox = async () => Number((await sql.query(`select count(*) as n from menu.outbox where subject = 'menu.menu.MenuChanged' and aggregate_key = $1`, [rid])).rows[0].n);
      const before = await outbox();
      // Before, nothing but a write through the API (or the TTL) dropped the cached menu: it served 4321's old price.
      assert.notEqual(itemsOf((await menuOf(t, rid)).body)[0]?.price, 4321);
      const refreshed = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh`, token: staff });
      assert.equal(refreshed.statusCode, 204, refreshed.body);
      const after = await menuOf(t, rid);
      assert.deepEqual([after.headers['x-cache'], itemsOf(after.body)[0]?.price], ['miss', 4321]);
      assert.equal(await outbox(), before + 1);
    } finally {
      await sql.end();
    }
    const admin = await t.token('admin', { subject: 'ops' });
    assert.equal((await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh`, token: admin })).statusCode, 204);
    const unknown = await t.request({ method: 'POST', url: `/v1/restaurants/${randomUUID()}/menu/refresh`, token: admin });
    assert.deepEqual([unknown.statusCode, unknown.json().code], [404, 'NOT_FOUND'], unknown.body);
    const other = await seed(t, 'Someone else');
    assert.equal((await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh`, token: other.staff })).statusCode, 404);
    assert.equal((await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh`, token: await t.token('customer') })).statusCode, 403);
    assert.equal((await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh` })).statusCode, 401);
  });

  test('POST …/menu/refresh gives the menu a new version, so a conditional GET with the ETag from before an edit that bypassed the version triggers gets the new menu, not 304', async () => {
    const { rid, staff, itemId } = await seed(t, 'Restored behind the triggers');
    const before = await menuOf(t, rid);
    const etag = String(before.headers.etag);
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    try {
      // What a data-only restore with --disable-triggers, or a fix made as a replica, does: the rows
      // change and menu.menu_versions does not.
      await sql.query(`set session_replication_role = replica`);
      await sql.query('update menu.items set price = 2000 where id = $1', [itemId]);
    } finally {
      await sql.end();
    }
    const refreshed = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh`, token: staff });
    assert.equal(refreshed.statusCode, 204, refreshed.body);
    const after = await menuOf(t, rid);
    assert.equal(itemsOf(after.body)[0]?.price, 2000);
    assert.notEqual(after.headers.etag, etag, 'the changed menu under the ETag of the one before');
    assert.equal((after.body as unknown as { version: number }).version, (before.body as unknown as { version: number }).version + 1);
    // Before, the refreshed menu kept its ETag, and a client revalidating got 304 for the old prices.
    const revalidated = await t.request({ url: `/v1/restaurants/${rid}/menu`, headers: { 'if-none-match': etag } });
    assert.equal(revalidated.statusCode, 200);
    assert.equal(itemsOf(revalidated.json())[0]?.price, 2000);
    assert.equal((await t.request({ url: `/v1/restaurants/${rid}/menu`, headers: { 'if-none-match': String(after.headers.etag) } })).statusCode, 304);
    // Every refresh is a new version: the announcement and the version say the same thing.
    assert.equal((await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/refresh`, token: staff })).statusCode, 204);
    assert.notEqual((await menuOf(t, rid)).headers.etag, after.headers.etag);
    const doc = (await t.request({ url: '/docs/json' })).json() as { paths: Record<string, { post: { summary: string; description: string; responses: Record<string, { description: string }> } }> };
    const refresh = doc.paths['/v1/restaurants/{rid}/menu/refresh']!.post;
    assert.match(refresh.summary, /new version/);
    assert.match(refresh.description, /never gets 304/);
    assert.match(refresh.responses['204']!.description, /new ETag/);
  });

  test('rows tied on what the menu orders them by (name, or position and name) come in id order, in the live menu and AS OF: one version, one document', async () => {
    const { rid, itemId, categoryId } = await seed(t, 'Twins');
    // Inserted with the higher id first, so that the order they were written in is not the id order.
    const [low, high] = [(n: number) => `00000000-0000-4000-8000-00000000000${n}`, (n: number) => `ffffffff-ffff-4fff-bfff-fffffffffff${n}`];
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    try {
      await sql.query('begin');
      for (const id of [high(1), low(1)]) await sql.query(`insert into menu.categories (tenant_id, id, name, position) values ($1, $2, 'Drinks', 5)`, [rid, id]);
      for (const id of [high(2), low(2)]) await sql.query(`insert into menu.items (tenant_id, id, category_id, name, price) values ($1, $2, $3, 'Twin', 500)`, [rid, id, categoryId]);
      for (const id of [high(3), low(3)]) await sql.query(`insert into menu.modifier_groups (tenant_id, id, item_id, name, min_choices, max_choices) values ($1, $2, $3, 'Extra', 0, 2)`, [rid, id, itemId]);
      for (const id of [high(4), low(4)]) await sql.query(`insert into menu.modifiers (tenant_id, id, group_id, name, price_delta, position) values ($1, $2, $3, 'Cheese', 100, 0)`, [rid, id, low(3)]);
      await sql.query('commit');
    } finally {
      await sql.query('rollback').catch(() => undefined);
      await sql.end();
    }
    type Doc = { categories: Array<{ id: string; name: string; items: Array<{ id: string; name: string; modifierGroups: Array<{ id: string; modifiers: Array<{ id: string }> }> }> }> };
    const shape = (doc: Doc) => ({
      categories: doc.categories.filter((c) => c.name === 'Drinks').map((c) => c.id),
      items: doc.categories.flatMap((c) => c.items).filter((i) => i.name === 'Twin').map((i) => i.id),
      groups: doc.categories.flatMap((c) => c.items).find((i) => i.id === itemId)!.modifierGroups.map((g) => g.id),
      modifiers: doc.categories.flatMap((c) => c.items).find((i) => i.id === itemId)!.modifierGroups.find((g) => g.id === low(3))!.modifiers.map((m) => m.id),
    });
    const expected = { categories: [low(1), high(1)], items: [low(2), high(2)], groups: [low(3), high(3)], modifiers: [low(4), high(4)] };
    // Before, each tie came out as it was read (here the order written: the higher id first).
    assert.deepEqual(shape((await menuOf(t, rid)).body as unknown as Doc), expected);
    assert.deepEqual(shape((await menuOf(t, rid, `?asOf=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body as unknown as Doc), expected);
  });

  test('a restaurant id spelled in upper case is the same restaurant: its cached menu is evicted by a write under the lower-case spelling', async () => {
    const { rid, staff, itemId } = await seed(t, 'Shouty');
    const upper = rid.toUpperCase();
    assert.equal((await menuOf(t, upper)).headers['x-cache'], 'miss');
    assert.equal((await menuOf(t, upper)).headers['x-cache'], 'hit-memory');
    const patched = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1500 } });
    assert.equal(patched.statusCode, 200, patched.body);
    // Before, the upper-case key was never evicted: it served the old price until its TTL.
    assert.equal(itemsOf((await menuOf(t, upper)).body)[0]?.price, 1500);
  });

  test('writes under a deleted parent are refused (422), not accepted into a menu nobody sees; bad input is a 400, and an unknown restaurant a 404', async () => {
    const { rid, staff, categoryId, itemId } = await seed(t, 'Parents');
    const other = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/categories`, token: staff, payload: { name: 'Gone' } });
    const gone = other.json().id as string;
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/restaurants/${rid}/menu/categories/${gone}`, token: staff, headers: { 'if-match': '"1"' } })).statusCode, 200);
    const into = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/items`, token: staff, payload: { categoryId: gone, name: 'Lost', price: 100 } });
    assert.deepEqual([into.statusCode, into.json().code, into.json().field], [422, 'MENU_PARENT_DELETED', 'body.categoryId'], into.body);
    const moved = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { categoryId: gone } });
    assert.deepEqual([moved.statusCode, moved.json().code], [422, 'MENU_PARENT_DELETED'], moved.body);
    assert.equal(itemsOf((await menuOf(t, rid)).body).length, 1, 'the item is still on the menu');
    const lost = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/items`, token: staff, payload: { categoryId, name: 'Doomed', price: 100 } });
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/restaurants/${rid}/menu/items/${lost.json().id}`, token: staff, headers: { 'if-match': '"1"' } })).statusCode, 200);
    const group = await t.request({
      method: 'POST',
      url: `/v1/restaurants/${rid}/menu/modifier-groups`,
      token: staff,
      payload: { itemId: lost.json().id, name: 'Size', minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Big', priceDelta: 100 }] },
    });
    assert.deepEqual([group.statusCode, group.json().code], [422, 'MENU_PARENT_DELETED'], group.body);

    const far = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/categories`, token: staff, payload: { name: 'Far', position: 3_000_000_000 } });
    assert.deepEqual([far.statusCode, far.json().field], [400, 'body.position'], far.body);
    const junk = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/categories/${gone}/restore`, token: staff, headers: { 'if-match': '"2"' }, payload: { junk: 1 } });
    assert.equal(junk.statusCode, 400, junk.body);
    const nulled = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: null } });
    assert.deepEqual([nulled.statusCode, nulled.json().field], [400, 'body.price'], 'null is not a price of 0');

    const admin = await t.token('admin', { subject: 'ops' });
    const nowhere = randomUUID();
    const orphan = await t.request({ method: 'POST', url: `/v1/restaurants/${nowhere}/menu/categories`, token: admin, payload: { name: 'Orphan' } });
    assert.deepEqual([orphan.statusCode, orphan.json().resource], [404, 'restaurant'], orphan.body);
    const invite = await t.request({ method: 'POST', url: `/v1/restaurants/${nowhere}/staff`, token: admin, payload: { name: 'S', email: 's@example.com' } });
    assert.deepEqual([invite.statusCode, invite.json().resource], [404, 'restaurant'], invite.body);
  });

  test('a parent id in the body that names nothing of the restaurant (unknown, or another restaurant\'s) is a 422 naming the field, as a deleted one is; not a 404 that reads as if the row addressed were gone', async () => {
    const { rid, staff, itemId } = await seed(t, 'Unknown parents');
    const elsewhere = await seed(t, 'Other parents');
    const menu = `/v1/restaurants/${rid}/menu`;
    const group = { name: 'Size', minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Large', priceDelta: 300 }] };
    for (const [what, id] of [['unknown', randomUUID()], ["another restaurant's", null]] as const) {
      const answers = [
        [await t.request({ method: 'PATCH', url: `${menu}/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { categoryId: id ?? elsewhere.categoryId } }), 'body.categoryId'],
        [await t.request({ method: 'POST', url: `${menu}/items`, token: staff, payload: { categoryId: id ?? elsewhere.categoryId, name: 'Lost', price: 100 } }), 'body.categoryId'],
        [await t.request({ method: 'POST', url: `${menu}/modifier-groups`, token: staff, payload: { itemId: id ?? elsewhere.itemId, ...group } }), 'body.itemId'],
      ] as const;
      for (const [r, field] of answers) {
        assert.deepEqual([r.statusCode, r.json().code, r.json().field], [422, 'MENU_PARENT_NOT_FOUND', field], `${what} ${field}: ${r.body}`);
        assert.match(r.json().detail, new RegExp(`^There is no (category|item) [0-9a-f-]{36} on this restaurant's menu: choose one of its`));
      }
    }
    assert.equal((await t.request({ url: `${menu}/items/${itemId}` })).json().version, 1, 'the refused PATCH wrote nothing');
    const missing = await t.request({ method: 'PATCH', url: `${menu}/items/${randomUUID()}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1 } });
    assert.equal(missing.statusCode, 404, 'the row addressed by the URL is still a 404');
  });

  test('a deleted grandparent counts too, and a restore needs live parents: what to restore first is named, top down', async () => {
    const { rid, staff, categoryId, itemId } = await seed(t, 'Ancestry');
    const menu = `/v1/restaurants/${rid}/menu`;
    const send = (method: 'PATCH' | 'DELETE' | 'POST', url: string, version: number | null, payload?: object) =>
      t.request({ method, url, token: staff, ...(version === null ? {} : { headers: { 'if-match': `"${version}"` } }), ...(payload === undefined ? {} : { payload }) });
    const group = await send('POST', `${menu}/modifier-groups`, null, { itemId, name: 'Size', minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Large', priceDelta: 300 }] });
    assert.equal(group.statusCode, 201, group.body);
    const groupUrl = `${menu}/modifier-groups/${group.json().id}`;
    assert.equal((await send('DELETE', groupUrl, 1)).statusCode, 200);
    assert.equal((await send('DELETE', `${menu}/categories/${categoryId}`, 1)).statusCode, 200);
    const category = { entity: 'category', id: categoryId };
    // The item is live, its category is not: nothing under it reaches the menu.
    const refusals = [
      [await send('POST', `${menu}/modifier-groups`, null, { itemId, name: 'Crust', minChoices: 0, maxChoices: 1, modifiers: [] }), 'body.itemId', [category]],
      [await send('PATCH', `${menu}/items/${itemId}`, 1, { price: 1100 }), undefined, [category]],
      [await send('POST', `${groupUrl}/restore`, 2), undefined, [category]],
    ] as const;
    for (const [r, field, restoreFirst] of refusals) {
      assert.deepEqual([r.statusCode, r.json().code, r.json().field, r.json().restoreFirst], [422, 'MENU_PARENT_DELETED', field, restoreFirst], r.body);
      assert.match(r.json().detail, new RegExp(`restore the category first \\(POST …/menu/categories/${categoryId}/restore\\)`));
    }
    // Item and category deleted: the item cannot come back before its category.
    assert.equal((await send('DELETE', `${menu}/items/${itemId}`, 1)).statusCode, 200, 'a delete under a deleted parent is allowed');
    const restoreItem = await send('POST', `${menu}/items/${itemId}/restore`, 2);
    assert.deepEqual([restoreItem.statusCode, restoreItem.json().code, restoreItem.json().restoreFirst], [422, 'MENU_PARENT_DELETED', [category]], restoreItem.body);
    const groupOnIt = await send('POST', `${menu}/modifier-groups`, null, { itemId, name: 'Crust', minChoices: 0, maxChoices: 1, modifiers: [] });
    assert.deepEqual([groupOnIt.statusCode, groupOnIt.json().restoreFirst], [422, [category, { entity: 'item', id: itemId }]], groupOnIt.body);
    assert.match(groupOnIt.json().detail, /restore the category first .*, then the item \(POST …\/menu\/items\//);
    const restoreGroup = await send('POST', `${groupUrl}/restore`, 2);
    assert.deepEqual([restoreGroup.statusCode, restoreGroup.json().restoreFirst], [422, [category, { entity: 'item', id: itemId }]], restoreGroup.body);
    assert.deepEqual((await t.request({ url: `${menu}/items/${itemId}` })).json().version, 2, 'the refused restore bumped no version');
    // In that order, each comes back.
    assert.equal((await send('POST', `${menu}/categories/${categoryId}/restore`, 2)).statusCode, 200);
    assert.equal((await send('POST', `${menu}/items/${itemId}/restore`, 2)).statusCode, 200);
    assert.equal((await send('POST', `${groupUrl}/restore`, 2)).statusCode, 200);
    assert.deepEqual(itemsOf((await menuOf(t, rid)).body).map((i) => [i.id, i.modifierGroups.length]), [[itemId, 1]]);
  });

  test("no menu write leaves an item whose cheapest choice costs less than 0: required groups' cheapest choices and every negative one that may be added count", async () => {
    const { rid, staff, itemId } = await seed(t, 'Cheapest'); // price 1000
    const menu = `/v1/restaurants/${rid}/menu`;
    const send = (method: 'PATCH' | 'DELETE' | 'POST', url: string, version: number | null, payload?: object) =>
      t.request({ method, url, token: staff, ...(version === null ? {} : { headers: { 'if-match': `"${version}"` } }), ...(payload === undefined ? {} : { payload }) });
    const group = (name: string, minChoices: number, maxChoices: number, deltas: number[]) =>
      send('POST', `${menu}/modifier-groups`, null, { itemId, name, minChoices, maxChoices, modifiers: deltas.map((priceDelta, i) => ({ name: `${name} ${i}`, priceDelta })) });
    const refused = (r: Awaited<ReturnType<typeof send>>, field: string | undefined, cheapest: number) =>
      assert.deepEqual([r.statusCode, r.json().code, r.json().field, r.json().cheapest], [422, 'MENU_PRICE_BELOW_ZERO', field, cheapest], r.body);

    refused(await group('Required', 1, 1, [-5000]), 'body.modifiers', -4000); // before: 201, and every order of it a 422 ORDER_LINE_PRICE_INVALID
    refused(await group('Two off', 0, 2, [-600, -600]), 'body.modifiers', -200);
    const c = await group('One off', 0, 1, [-600, -600]);
    assert.equal(c.statusCode, 201, c.body);
    refused(await send('PATCH', `${menu}/items/${itemId}`, 1, { price: 500 }), 'body.price', -100);
    assert.equal((await send('PATCH', `${menu}/items/${itemId}`, 1, { price: 600 })).statusCode, 200, 'a cheapest order of 0 is allowed');
    const d = await group('Base', 1, 1, [500]);
    const e = await group('Discount', 0, 1, [-400]);
    assert.deepEqual([d.statusCode, e.statusCode], [201, 201], `${d.body} ${e.body}`);
    const dUrl = `${menu}/modifier-groups/${d.json().id}`;
    const eUrl = `${menu}/modifier-groups/${e.json().id}`;
    refused(await send('DELETE', dUrl, 1), undefined, -400);
    assert.equal((await send('DELETE', eUrl, 1)).statusCode, 200);
    assert.equal((await send('DELETE', dUrl, 1)).statusCode, 200);
    refused(await send('POST', `${eUrl}/restore`, 2), undefined, -400);
    refused(await send('PATCH', `${menu}/modifier-groups/${c.json().id}`, 1, { maxChoices: 2 }), 'body.maxChoices', -600);
    const detail = (await send('PATCH', `${menu}/modifier-groups/${c.json().id}`, 1, { modifiers: [{ name: 'Free', priceDelta: -601 }] })).json();
    assert.equal(detail.code, 'MENU_PRICE_BELOW_ZERO');
    assert.match(detail.detail, /cheapest order of Margherita would cost -1 \(price 600; One off: Free -601\)/);
    const items = itemsOf((await menuOf(t, rid)).body);
    assert.deepEqual(items.map((i) => [i.price, i.modifierGroups.length]), [[600, 1]], 'nothing refused was kept');
  });

  test("no menu write leaves an item whose cheapest order is above the order cap: the menu refuses it (422) instead of showing an item every order refuses", async () => {
    const { rid, staff, itemId } = await seed(t, 'Banquet'); // price 1000
    const menu = `/v1/restaurants/${rid}/menu`;
    const itemUrl = `${menu}/items/${itemId}`;
    const send = (method: 'PATCH' | 'DELETE' | 'POST', url: string, version: number | null, payload?: object) =>
      t.request({ method, url, token: staff, ...(version === null ? {} : { headers: { 'if-match': `"${version}"` } }), ...(payload === undefined ? {} : { payload }) });
    const group = (name: string, minChoices: number, maxChoices: number, deltas: number[]) =>
      send('POST', `${menu}/modifier-groups`, null, { itemId, name, minChoices, maxChoices, modifiers: deltas.map((priceDelta, i) => ({ name: `${name} ${i}`, priceDelta })) });
    const refused = (r: Awaited<ReturnType<typeof send>>, field: string | undefined, cheapest: number) =>
      assert.deepEqual(
        [r.statusCode, r.json().code, r.json().field, r.json().itemId, r.json().cheapest, r.json().maxTotal],
        [422, 'MENU_PRICE_ABOVE_ORDER_LIMIT', field, itemId, cheapest, MAX_ORDER_TOTAL],
        r.body,
      );
    const customer = await t.token('customer', { subject: randomUUID() });
    const order = (modifierIds: string[]) =>
      t.request({ method: 'POST', url: '/v1/orders', token: customer, headers: { 'idempotency-key': randomUUID() }, payload: { restaurantId: rid, deliveryAddress: 'Rua 1, Lisboa', lines: [{ itemId, quantity: 1, modifierIds }] } });

    // Exactly at the cap: the menu takes it, and so does ordering.
    assert.equal((await send('PATCH', itemUrl, 1, { price: MAX_ORDER_TOTAL })).statusCode, 200);
    const atCap = await order([]);
    assert.deepEqual([atCap.statusCode, atCap.json().total], [201, MAX_ORDER_TOTAL], atCap.body);
    // A required group on an item at the cap: before, 201, and every order of it a 422 ORDER_TOTAL_TOO_HIGH ("split it").
    const over = await group('Size', 1, 1, [2, 5]);
    refused(over, 'body.modifiers', MAX_ORDER_TOTAL + 2);
    assert.match(over.json().detail, /cheapest order of Margherita would cost 100000002 \(price 100000000; Size: Size 0 2\), above the 100000000 one order may cost/);
    assert.match(over.json().detail, /lower the price/);
    // An optional group with a positive modifier adds nothing every order must take.
    const extra = await group('Extra', 0, 1, [2]);
    assert.equal(extra.statusCode, 201, extra.body);
    // The price lowered, the same required group fits exactly at the cap.
    assert.equal((await send('PATCH', itemUrl, 2, { price: MAX_ORDER_TOTAL - 2 })).statusCode, 200);
    const size = await group('Size', 1, 1, [2, 5]);
    assert.equal(size.statusCode, 201, size.body);
    const sizeUrl = `${menu}/modifier-groups/${size.json().id}`;
    const [regular] = size.json().modifiers as Array<{ id: string }>;
    const fits = await order([regular!.id]);
    assert.deepEqual([fits.statusCode, fits.json().total], [201, MAX_ORDER_TOTAL], fits.body);
    // A price raised over it (before: 200), a required modifier made dearer, a second required group.
    refused(await send('PATCH', itemUrl, 3, { price: MAX_ORDER_TOTAL - 1 }), 'body.price', MAX_ORDER_TOTAL + 1);
    refused(await send('PATCH', sizeUrl, 1, { modifiers: [{ name: 'Regular', priceDelta: 3 }] }), 'body.modifiers', MAX_ORDER_TOTAL + 1);
    refused(await group('Crust', 1, 1, [1]), 'body.modifiers', MAX_ORDER_TOTAL + 1);
    refused(await send('PATCH', `${menu}/modifier-groups/${extra.json().id}`, 1, { minChoices: 1 }), 'body.minChoices', MAX_ORDER_TOTAL + 2);
    // A discount any order may take lowers the cheapest order; deleting it raises it again.
    const discount = await group('Discount', 0, 1, [-10]);
    assert.equal(discount.statusCode, 201, discount.body);
    const discountUrl = `${menu}/modifier-groups/${discount.json().id}`;
    assert.equal((await send('PATCH', itemUrl, 3, { price: MAX_ORDER_TOTAL })).statusCode, 200, 'cheapest: 100000000 + 2 - 10');
    refused(await send('DELETE', discountUrl, 1), undefined, MAX_ORDER_TOTAL + 2);

    // Nothing refused was kept.
    const items = itemsOf((await menuOf(t, rid)).body) as Array<{ price: number; modifierGroups: Array<{ name: string; minChoices: number; maxChoices: number; modifiers: Array<{ priceDelta: number }> }> }>;
    assert.deepEqual(
      items.map((i) => [i.price, i.modifierGroups.map((g) => [g.name, g.minChoices, g.maxChoices, g.modifiers.map((m) => m.priceDelta)])]),
      [[MAX_ORDER_TOTAL, [['Discount', 0, 1, [-10]], ['Extra', 0, 1, [2]], ['Size', 1, 1, [2, 5]]]]],
    );
  });

  test("two modifier groups saved at once, each fine alone, together below 0: forced to overlap, the second sees the first and is refused", async () => {
    const { rid, staff, itemId } = await seed(t, 'CheapestRace'); // price 1000
    const group = (name: string) =>
      t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/modifier-groups`, token: staff, payload: { itemId, name, minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Off', priceDelta: -600 }] } });
    // Inserts into modifier_groups wait while it is held: both requests are inside before either inserts.
    const [a, b] = await withTableHeld(t, 'menu.modifier_groups', 2, () => Promise.all([group('Coupon'), group('Voucher')]));
    assert.deepEqual([a.statusCode, b.statusCode].sort(), [201, 422], `${a.body} ${b.body}`);
    assert.equal((a.statusCode === 422 ? a : b).json().code, 'MENU_PRICE_BELOW_ZERO');
    assert.equal(itemsOf((await menuOf(t, rid)).body)[0]?.modifierGroups.length, 1);
  });

  test("menu names follow the directory's name rule: not blank, no space at either end, no control or bidi-override character (400 naming the field)", async () => {
    const { rid, staff, categoryId, itemId } = await seed(t, 'Names');
    const menu = `/v1/restaurants/${rid}/menu`;
    const group = await t.request({ method: 'POST', url: `${menu}/modifier-groups`, token: staff, payload: { itemId, name: 'Size', minChoices: 0, maxChoices: 1, modifiers: [] } });
    assert.equal(group.statusCode, 201, group.body);
    const groupBody = (name: string, modifier = 'Large') => ({ itemId, name, minChoices: 0, maxChoices: 1, modifiers: [{ name: modifier, priceDelta: 0 }] });
    for (const bad of ['   ', '\n', 'a\u0007b', '\u202Eazzip', 'a\u2066b', ' Pizza', 'Pizza ', '\u200B', 'a\u0085b']) {
      for (const [method, url, payload, field] of [
        ['POST', `${menu}/categories`, { name: bad }, 'body.name'],
        ['PATCH', `${menu}/categories/${categoryId}`, { name: bad }, 'body.name'],
        ['POST', `${menu}/items`, { categoryId, name: bad, price: 100 }, 'body.name'],
        ['PATCH', `${menu}/items/${itemId}`, { name: bad }, 'body.name'],
        ['POST', `${menu}/modifier-groups`, groupBody(bad), 'body.name'],
        ['POST', `${menu}/modifier-groups`, groupBody('Size', bad), 'body.modifiers.0.name'],
        ['PATCH', `${menu}/modifier-groups/${group.json().id}`, { modifiers: [{ name: bad, priceDelta: 0 }] }, 'body.modifiers.0.name'],
      ] as const) {
        const r = await t.request({ method, url, token: staff, headers: { 'if-match': '"1"' }, payload });
        assert.deepEqual([r.statusCode, r.json().field], [400, field], `${method} ${url} ${JSON.stringify(bad)}: ${r.body}`);
      }
    }
    // What people write stays: letters of any script, inner spaces, emoji, right-to-left text without overrides.
    for (const name of ['Café  Crème', 'بيتزا', 'Pizza 🍕', 'Ñoquis “caseros”']) {
      const r = await t.request({ method: 'POST', url: `${menu}/categories`, token: staff, payload: { name } });
      assert.deepEqual([r.statusCode, r.json().name], [201, name], r.body);
    }
    // The rule is the directory's own (one definition): a restaurant's name refuses the override too.
    const admin = await t.token('admin', { subject: 'ops' });
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: '\u202Eazzip', city: 'Lisbon', currency: 'EUR' } });
    assert.deepEqual([restaurant.statusCode, restaurant.json().field], [400, 'body.name'], restaurant.body);
  });

  test("an item's description refuses what names refuse (control and bidi-override characters), line breaks and tabs aside (400 naming the field; before: 200, stored and served)", async () => {
    const { rid, staff, categoryId, itemId } = await seed(t, 'Descriptions');
    const menu = `/v1/restaurants/${rid}/menu`;
    for (const bad of ['ok \u202Eevil', 'ring\u0007', 'red \u001b[31m', 'a\u2066b', 'a\u0085b', 'a\u007fb', 'a\u0000b', 'over\rwrite', 'a\u000bb']) {
      for (const [method, url, payload] of [
        ['POST', `${menu}/items`, { categoryId, name: 'Calzone', description: bad, price: 100 }],
        ['PATCH', `${menu}/items/${itemId}`, { description: bad }],
      ] as const) {
        const r = await t.request({ method, url, token: staff, headers: { 'if-match': '"1"' }, payload });
        assert.deepEqual([r.statusCode, r.json().code, r.json().field], [400, 'VALIDATION_FAILED', 'body.description'], `${method} ${url} ${JSON.stringify(bad)}: ${r.body}`);
        // NUL is refused before, by the platform-wide check that no text holds it, in its own words.
        if (!bad.includes('\u0000')) assert.equal(r.json().detail, 'body.description must not hold a control or bidi-override character other than a tab or a line break', r.body);
      }
    }
    assert.equal((await t.request({ url: `${menu}/items/${itemId}` })).json().description, 'tomato mozzarella basil', 'nothing was stored');
    // A description may run over lines (as a textarea sends them, LF or CRLF) and hold tabs, any script, emoji.
    let version = 1;
    for (const description of ['Tomato,\nmozzarella,\r\nbasil.', '\tIndented\n\n', 'بيتزا 🍕 “caseros”', '']) {
      const created = await t.request({ method: 'POST', url: `${menu}/items`, token: staff, payload: { categoryId, name: 'Calzone', description, price: 100 } });
      assert.deepEqual([created.statusCode, created.json().description], [201, description], created.body);
      const patched = await t.request({ method: 'PATCH', url: `${menu}/items/${itemId}`, token: staff, headers: { 'if-match': `"${version++}"` }, payload: { description } });
      assert.deepEqual([patched.statusCode, patched.json().description], [200, description], patched.body);
    }
  });

  test('history from any write path: an UPDATE that leaves the version alone still bumps it and keeps a current version; two changes in one transaction leave one range', async () => {
    const { rid, itemId } = await seed(t, 'Console');
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    try {
      const ranges = async () =>
        (await sql.query<{ version: number; open: boolean }>(`select version, valid_to = 'infinity' as open from menu.history where entity = 'item' and id = $1 order by version`, [itemId])).rows;
      await sql.query(`update menu.items set description = 'fixed a typo' where id = $1`, [itemId]); // a console fix: no version bump
      assert.deepEqual(await ranges(), [{ version: 1, open: false }, { version: 2, open: true }], 'before, version 1 was closed and nothing was current');
      await sql.query('begin');
      await sql.query(`update menu.items set price = 1100 where id = $1`, [itemId]);
      await sql.query(`update menu.items set price = 1200 where id = $1`, [itemId]);
      await sql.query('commit');
      assert.deepEqual(await ranges(), [{ version: 1, open: false }, { version: 2, open: false }, { version: 4, open: true }], 'before, versions 3 and 4 were both open');
      const history = await t.request({ url: `/v1/restaurants/${rid}/menu/items/${itemId}/history` });
      assert.equal(history.statusCode, 200, history.body);
      assert.equal(itemsOf((await menuOf(t, rid, `?asOf=${new Date(Date.now() + 1000).toISOString()}`)).body).length, 1, 'AS OF now lists the item once');
    } finally {
      await sql.query('rollback').catch(() => undefined);
      await sql.end();
    }
  });

  test('history when a transaction that began earlier changes a row after another committed a change of it: one open version, ranges that meet and never overlap, AS OF lists the item once', async () => {
    const { rid, staff, itemId } = await seed(t, 'Older transaction');
    const older = new pg.Client({ connectionString: t.db.url });
    await older.connect();
    try {
      // A console session (or a data migration) begins first: its now() is before the PATCH's.
      await older.query('begin');
      await older.query('select now()');
      const patched = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1100 } });
      assert.equal(patched.statusCode, 200, patched.body);
      await older.query(`update menu.items set description = 'fixed late' where id = $1`, [itemId]);
      await older.query(`update menu.items set sold_out = true where id = $1`, [itemId]); // its second change: still one range for it
      await older.query('commit');
      const { rows } = await older.query<{ version: number; meets_next: boolean | null; ordered: boolean; open: boolean }>(
        `select version, valid_to = lead(valid_from) over (order by version) as meets_next, valid_from < valid_to as ordered, valid_to = 'infinity' as open
           from menu.history where entity = 'item' and id = $1 order by version`,
        [itemId],
      );
      assert.deepEqual(
        rows,
        [
          { version: 1, meets_next: true, ordered: true, open: false },
          { version: 2, meets_next: true, ordered: true, open: false },
          { version: 4, meets_next: null, ordered: true, open: true },
        ],
        'before, versions 2 and 4 were both open, and 4 began before 2',
      );
      const listed = itemsOf((await menuOf(t, rid, `?asOf=${new Date(Date.now() + 1000).toISOString()}`)).body);
      assert.deepEqual(listed.map((i) => i.price), [1100], 'AS OF now lists the item once');
      const history = (await t.request({ url: `/v1/restaurants/${rid}/menu/items/${itemId}/history` })).json().versions as Array<{ version: number; validTo: string | null }>;
      assert.deepEqual(history.map((v) => [v.version, v.validTo === null]), [[1, false], [2, false], [4, true]]);
    } finally {
      await older.query('rollback').catch(() => undefined);
      await older.end();
    }
  });

  test("a version is dated when its transaction commits, not when it began: AS OF an instant while the write waited for the menu lock keeps its answer once the write commits (before: the new price)", async () => {
    const { rid, staff, itemId } = await seed(t, 'Dated at commit');
    const url = `/v1/restaurants/${rid}/menu/items/${itemId}`;
    const group = await addSizeGroup(t, rid, staff, itemId);
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    const instant = async () =>
      (await sql.query<{ at: string }>(`select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at`)).rows[0]!.at;
    const prices = async (query = '') => itemsOf((await menuOf(t, rid, query)).body).map((i) => i.price);
    try {
      // The PATCH (its item and, in the same transaction, nothing else) and a group re-saved with two
      // modifiers (three rows in one transaction) both wait for the menu lock; meanwhile, instant T2.
      let during = '';
      const seen: Record<string, number[]> = {};
      const [patched, resaved] = await withMenuVersionHeld(
        t,
        rid,
        [
          () => t.request({ method: 'PATCH', url, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1500 } }),
          () =>
            t.request({
              method: 'PATCH',
              url: `/v1/restaurants/${rid}/menu/modifier-groups/${group.json().id as string}`,
              token: staff,
              headers: { 'if-match': '"1"' },
              payload: { name: 'Crust', modifiers: [{ name: 'Thin', priceDelta: 0 }, { name: 'Deep', priceDelta: 200 }] },
            }),
        ],
        async () => {
          await sleep(5);
          during = await instant();
          await sleep(5);
          seen.live = await prices();
          seen.asOf = await prices(`?asOf=${during}`);
        },
      );
      assert.equal(patched?.statusCode, 200, patched?.body);
      assert.equal(resaved?.statusCode, 200, resaved?.body);
      assert.deepEqual(seen, { live: [1000], asOf: [1000] }, 'at T2 the menu, live and as of T2, has the old price');
      const after = await instant();
      assert.deepEqual(await prices(), [1500]);
      assert.deepEqual(await prices(`?asOf=${during}`), [1000], 'as of T2 the price read at T2 (before: 1500, the answer changed after the fact)');
      // Each transaction's versions start at one instant, after T2 and before its answer came.
      const { rows } = await sql.query<{ entity: string; starts: string[] }>(
        `select entity, array_agg(distinct to_char(valid_from at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) as starts
           from menu.history where tenant_id = $1 and valid_from > $2::timestamptz group by entity order by entity`,
        [rid, during],
      );
      assert.deepEqual(rows.map((r) => [r.entity, r.starts.length]), [['item', 1], ['modifier', 1], ['modifier_group', 1]], JSON.stringify(rows));
      const [item, modifier, group2] = rows.map((r) => r.starts[0]!);
      assert.equal(modifier, group2, 'the group and its modifiers, saved in one transaction, start at one instant');
      assert.ok(item! < modifier!, 'the PATCH, first to get the lock, is dated before the group it committed before');
      assert.ok(modifier! < after, `${modifier} is before ${after}`);
      // Ranges still meet: the version each replaced ends where it begins.
      const history = (await t.request({ url: `${url}/history` })).json().versions as Array<{ version: number; validFrom: string; validTo: string | null }>;
      assert.deepEqual(history.map((v) => [v.version, v.validTo]), [[1, history[1]!.validFrom], [2, null]]);
      assert.ok(history[1]!.validFrom > during, `version 2 starts at ${history[1]!.validFrom}, after T2 (${during}); before, at the PATCH's BEGIN`);
    } finally {
      await sql.end();
    }
  });

  test("an order's placedAt is an instant at which the menu's history has the prices it charged: a price change committed while the placement waited on the directory is the one charged, and ?asOf=placedAt says so (before: placedAt read first, the old price)", async () => {
    const { rid, staff, itemId } = await seed(t, 'Placed at');
    const customer = await t.token('customer', { subject: randomUUID() });
    // The reviewer's probe: the placement waits on the directory (after the instant it used to read)
    // while staff change the price and commit; then the directory is released.
    const holder = new pg.Client({ connectionString: t.db.url });
    const watcher = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    await watcher.connect();
    let order: Awaited<ReturnType<TestPlatform['request']>>;
    try {
      await holder.query('begin');
      await holder.query('lock table platform.restaurants in access exclusive mode');
      const placing = t.request({
        method: 'POST',
        url: '/v1/orders',
        token: customer,
        headers: { 'idempotency-key': randomUUID() },
        payload: { restaurantId: rid, deliveryAddress: 'Rua 1, Lisboa', lines: [{ itemId, quantity: 1 }] },
      });
      for (let i = 0; ; i++) {
        const { rows } = await watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%platform.restaurants%' and pid <> pg_backend_pid()`,
        );
        if (rows[0]!.n >= 1) break;
        assert.ok(i < 2000, 'the placement never waited on the directory');
        await sleep(5);
      }
      await sleep(20);
      const patched = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': '"1"' }, payload: { price: 1500 } });
      assert.equal(patched.statusCode, 200, patched.body);
      await holder.query('commit');
      order = await placing;
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
      await watcher.end();
    }
    assert.equal(order.statusCode, 201, order.body);
    const placed = order.json() as { placedAt: string; lines: Array<{ itemId: string; itemVersion: number; unitPrice: number }> };
    assert.deepEqual(placed.lines.map((l) => [l.itemVersion, l.unitPrice]), [[2, 1500]], 'the price committed before the menu was read is charged');
    const asOf = itemsOf((await menuOf(t, rid, `?asOf=${encodeURIComponent(placed.placedAt)}`)).body);
    assert.deepEqual(asOf.map((i) => [i.id, i.price]), [[itemId, 1500]], `as of placedAt ${placed.placedAt} the menu had the price charged (before: 1000)`);
    const history = (await t.request({ url: `/v1/restaurants/${rid}/menu/items/${itemId}/history` })).json().versions as Array<{ version: number; validFrom: string; validTo: string | null }>;
    const current = history.find((v) => v.validFrom <= placed.placedAt && (v.validTo === null || placed.placedAt < v.validTo));
    assert.equal(current?.version, 2, `${placed.placedAt} within version 2's range: ${JSON.stringify(history)}`);
  });

  test('changes made in a subtransaction and after it are dated at the commit as well: the version replaced in the same transaction never was current (an empty range), and the ranges still meet', async () => {
    const { rid, itemId } = await seed(t, 'Savepoint');
    const sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    try {
      await sql.query('begin');
      const began = (await sql.query<{ now: string }>(`select now()::text as now`)).rows[0]!.now;
      // The first change inside the subtransaction: its history row has the subtransaction's xmin, so the
      // second change does not take it for this transaction's own and opens a range of its own.
      await sql.query('savepoint s');
      await sql.query(`update menu.items set price = 1100 where id = $1`, [itemId]);
      await sql.query('release savepoint s');
      await sql.query(`update menu.items set price = 1200 where id = $1`, [itemId]);
      await sleep(20);
      await sql.query('commit');
      const { rows } = await sql.query<{ version: number; meets_next: boolean | null; empty: boolean; after_begin: boolean }>(
        `select version, valid_to = lead(valid_from) over (order by version) as meets_next, valid_from = valid_to as empty,
                valid_from > $2::timestamptz + interval '15 milliseconds' as after_begin
           from menu.history where entity = 'item' and id = $1 order by version`,
        [itemId, began],
      );
      assert.deepEqual(rows, [
        { version: 1, meets_next: true, empty: false, after_begin: false },
        { version: 2, meets_next: true, empty: true, after_begin: true },
        { version: 3, meets_next: null, empty: false, after_begin: true },
      ]);
      assert.deepEqual(itemsOf((await menuOf(t, rid, `?asOf=${new Date(Date.now() + 1000).toISOString()}`)).body).map((i) => i.price), [1200]);
    } finally {
      await sql.query('rollback').catch(() => undefined);
      await sql.end();
    }
  });
});

describe('menu cache in Redis, shared by two app instances', () => {
  test('a read on instance B right after a change committed on instance A never returns the old price', async (tc) => {
    const redis = await requireService('redis');
    if (redis.skip) return tc.skip(redis.skip);
    const a = await startTestPlatform({ REDIS_URL: testEnv.redisUrl });
    try {
      const { createPlatform } = await import('../../../src/composition/runtime.ts');
      const { loadConfig } = await import('../../../src/platform/config/index.ts');
      const { SERVICE_NAMES } = await import('../../../src/composition/services.ts');
      const { TEST_SECRET } = await import('../../support/platform.ts');
      const config = loadConfig({ DATABASE_URL: a.db.url, BRIGADE_SECRET: TEST_SECRET, REDIS_URL: testEnv.redisUrl }, { services: SERVICE_NAMES });
      const b = await createPlatform(config, { url: a.db.url, embedded: null }, { logger: false });
      try {
        const { rid, staff, itemId } = await seed(a, `Shared ${randomUUID().slice(0, 8)}`);
        for (let round = 0; round < 20; round++) {
          const warm = await b.app.inject({ url: `/v1/restaurants/${rid}/menu` });
          assert.equal(warm.statusCode, 200);
          const price = 2000 + round;
          const patched = await a.request({ method: 'PATCH', url: `/v1/restaurants/${rid}/menu/items/${itemId}`, token: staff, headers: { 'if-match': `"${round + 1}"` }, payload: { price } });
          assert.equal(patched.statusCode, 200, patched.body);
          const read = await b.app.inject({ url: `/v1/restaurants/${rid}/menu` });
          const items = (read.json().categories as Array<{ items: Array<{ price: number }> }>).flatMap((c) => c.items);
          assert.equal(items[0]?.price, price, `round ${round}: instance B served the old price`);
        }
        const hit = await b.app.inject({ url: `/v1/restaurants/${rid}/menu` });
        assert.equal(hit.headers['x-cache'], 'hit-redis');
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
  });

  test('a write whose COMMIT lost its connection and commits later, after the at-once eviction, is not hidden by a read in between (Redis)', async (tc) => {
    const redis = await requireService('redis');
    if (redis.skip) return tc.skip(redis.skip);
    const a = await startTestPlatform({ REDIS_URL: testEnv.redisUrl });
    try {
      await lostCommitLandingLater(a);
    } finally {
      await a.close();
    }
  });

  test('with Redis down, menu reads are still served from the database', async () => {
    const down = await startTestPlatform({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const { rid } = await seed(down, 'Degraded');
      for (let i = 0; i < 3; i++) {
        const r = await down.request({ url: `/v1/restaurants/${rid}/menu` });
        assert.equal(r.statusCode, 200);
        assert.equal(r.headers['x-cache'], 'miss');
        assert.equal(itemsOf(r.json()).length, 1);
      }
    } finally {
      await down.close();
    }
  });
});
