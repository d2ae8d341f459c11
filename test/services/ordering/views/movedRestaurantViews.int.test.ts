import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../../src/composition/services.ts';
import { PROJECTION_WAKE_CHANNEL } from '../../../../src/platform/projections/index.ts';
import { moveTenant } from '../../../../src/platform/tenancy/index.ts';
import { eventually, within } from '../../../support/eventually.ts';
import { createTestDatabase, type TestDatabase } from '../../../support/db.ts';
import { startTestPlatform, type TestPlatform } from '../../../support/platform.ts';
import { assignedOrder as assignedOrderOf, command, courier, customer, seedRestaurant, type SeededRestaurant } from '../support.ts';
import { startOrderViewWorkers } from './support.ts';

/** The wake-up keys (`<schema>.<name>`) of the three projections: what a reader waiting for a view notifies. */
const VIEW_KEYS = ['ordering.board', 'ordering.customer-orders', 'ordering.courier-tasks'];

type Item = { orderId: string; status: string; position: string };

describe("a moved restaurant's order views: read-your-writes and the live board in its own database", () => {
  let t: TestPlatform;
  let target: TestDatabase;
  /** The database of the second test's move (dropped once the workers that serve it have stopped). */
  let second: TestDatabase | undefined;
  let base: string;
  let stopViews: (() => Promise<void>) | undefined;
  before(async () => {
    // Each database's three projectors hold a lock connection and run batches; the reads wait in both.
    t = await startTestPlatform({ DATABASE_POOL_SIZE: '16' });
    target = await createTestDatabase({ empty: true });
    base = await t.platform.app.listen({ host: '127.0.0.1', port: 0 });
    stopViews = startOrderViewWorkers(t.platform.deps);
  });
  after(async () => {
    await stopViews?.();
    await t?.close();
    await target?.drop();
    await second?.drop();
  });

  /** GET with a token: status, body. */
  const get = async (url: string, token: string) => {
    const res = await t.request({ url, token });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { position: string; lagging: boolean; orders?: Item[]; tasks?: Item[] };
  };
  /** A `?after=` read, read again until it answers caught up (not `lagging`). */
  const caughtUp = (url: string, token: string) => eventually(`${url} to answer caught up`, () => get(url, token), (answer) => !answer.lagging);
  /** Opens a board stream (with `Last-Event-ID` when given) and collects its text until it ends or is closed. */
  const openStream = async (rid: string, token: string, lastEventId?: string) => {
    const abort = new AbortController();
    const response = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${token}`, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) }, signal: abort.signal });
    assert.equal(response.status, 200);
    let text = '';
    const ended = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
      } catch {
        // aborted
      }
    })();
    return {
      text: () => text,
      seen: (id: string) => text.includes(`id: ${id}\n`),
      ended,
      close: async () => {
        abort.abort();
        await ended;
      },
    };
  };
  const assignedOrder = (r: SeededRestaurant, c: { token: string }, k: { id: string }) => assignedOrderOf(t, r, c, k);

  test('after a move, ?after= reads of the customer, the courier and the board hold a command on the moved order, next to the other restaurant’s orders; the board’s stream pushes its changes', async () => {
    const moving = await seedRestaurant(t, 'Moving Kitchen');
    const staying = await seedRestaurant(t, 'Staying Kitchen');
    const c = await customer(t);
    const k = await courier(t);
    // Placed and assigned in this order: the moved restaurant's order falls between the other's two.
    const s0 = await assignedOrder(staying, c, k);
    const m = await assignedOrder(moving, c, k);
    const s = await assignedOrder(staying, c, k);
    // The shared database's three views have applied both orders before the move. (A read whose bounded
    // wait ended first says `lagging`, as on a loaded machine; its answer is read again.)
    const beforeMove = await caughtUp(`/v1/customers/me/orders?after=${s.position}`, c.token);
    assert.deepEqual(beforeMove.orders?.map((o) => o.orderId), [s.id, m.id, s0.id]);
    assert.deepEqual((await caughtUp(`/v1/couriers/me/tasks?after=${s.position}`, k.token)).tasks?.map((o) => o.orderId), [s.id, m.id, s0.id]);
    assert.deepEqual((await caughtUp(`/v1/restaurants/${moving.rid}/board?after=${s.position}`, moving.staff)).orders?.map((o) => o.orderId), [m.id]);

    await moveTenant({ tenantId: moving.rid, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    // No transaction of the process has met the restaurant since its move: its pool is found by asking,
    // once the placement catalog (read at most a second ago) lists the new database.
    const staffContext = { service: 'ordering', tenantId: moving.rid, actor: { kind: 'staff' as const, id: randomUUID() } };
    await eventually('the router to find the moved restaurant\'s pool', () => t.platform.deps.placements.poolOfTenant(staffContext), (pool) => pool === t.platform.databases.poolForUrl(target.url), 10_000);
    assert.equal(await t.platform.deps.placements.poolOfTenant({ ...staffContext, tenantId: staying.rid }), t.platform.databases.poolFor('ordering'), "the other restaurant's: the shared one");
    const admin = new pg.Client({ connectionString: target.url });
    const holder = new pg.Client({ connectionString: target.url });
    const watcher = new pg.Client({ connectionString: target.url });
    await Promise.all([admin.connect(), holder.connect(), watcher.connect()]);
    try {
      // The new database's projectors project the copied events there.
      await eventually(
        'the moved database to have its three projections',
        async () => (await admin.query<{ n: number }>(`select count(*)::int as n from ordering.projection_checkpoints where position > 0`)).rows[0]!.n,
        (n) => n === 3,
      );

      // Forced interleaving: the new database's projectors are held (a table lock takes no transaction
      // id, so the other databases' reads of the log go on), the command commits there, and the reads
      // must wait in THAT database, which they show by waking its projectors.
      await holder.query('begin');
      await holder.query('lock table ordering.projection_checkpoints in exclusive mode');
      const woken = new Set<string>();
      let allWoken!: () => void;
      const wokenAll = new Promise<'waiting'>((resolve) => (allWoken = () => resolve('waiting')));
      watcher.on('notification', (n) => {
        if (n.channel !== PROJECTION_WAKE_CHANNEL || n.payload === undefined) return;
        woken.add(n.payload);
        if (VIEW_KEYS.every((key) => woken.has(key))) allWoken();
      });
      await watcher.query(`listen ${PROJECTION_WAKE_CHANNEL}`);

      const ready = await command(t, moving.staff, m.id, 'ready', 3);
      assert.equal(ready.statusCode, 200, ready.body);
      const at = ready.json().position as string;
      const reads = Promise.all([
        get(`/v1/customers/me/orders?after=${at}`, c.token),
        get(`/v1/couriers/me/tasks?after=${at}`, k.token),
        get(`/v1/restaurants/${moving.rid}/board?after=${at}`, moving.staff),
      ]);
      const first = await Promise.race([wokenAll, reads.then(() => 'answered' as const)]);
      await holder.query('commit');
      assert.equal(first, 'waiting', `the three reads wait for the moved restaurant's database before answering (woken there: ${[...woken].join(', ') || 'none'})`);
      let [history, tasks, board] = await reads;
      if (history.lagging || tasks.lagging || board.lagging) {
        // Another test file's open transaction can hold every log reader of the cluster back for a while
        // (decision 0011): the read answered at its bound, and says so; the same read again, until it holds.
        [history, tasks, board] = await eventually(
          'the ?after= reads to catch up',
          () => Promise.all([get(`/v1/customers/me/orders?after=${at}`, c.token), get(`/v1/couriers/me/tasks?after=${at}`, k.token), get(`/v1/restaurants/${moving.rid}/board?after=${at}`, moving.staff)]),
          (answers) => answers.every((a) => !a.lagging),
          30_000,
        );
      }

      const statusOf = (items: Item[] | undefined) => items?.map((o) => [o.orderId, o.status]);
      // Newest first across both databases (placed, and assigned: s0, m, s).
      assert.deepEqual(statusOf(history.orders), [[s.id, 'accepted'], [m.id, 'ready'], [s0.id, 'accepted']], "the customer's history: the moved order's new state among the other restaurant's orders");
      assert.deepEqual(statusOf(tasks.tasks), [[s.id, 'accepted'], [m.id, 'ready'], [s0.id, 'accepted']], "the courier's tasks: the same");
      // The limit is the whole list's: the first two of the merged order, not of the shared database's.
      assert.deepEqual((await get(`/v1/customers/me/orders?after=${at}&limit=2`, c.token)).orders?.map((o) => o.orderId), [s.id, m.id]);
      assert.deepEqual((await get(`/v1/couriers/me/tasks?after=${at}&limit=2`, k.token)).tasks?.map((o) => o.orderId), [s.id, m.id]);
      assert.deepEqual(statusOf(board.orders), [[m.id, 'ready']], "the moved restaurant's board");
      assert.equal(board.orders?.[0]?.position, at, 'the board row is at the command’s position');

      // The live board of the moved restaurant: from the start (Last-Event-ID 0.0), then a change made now.
      const stream = await openStream(moving.rid, moving.staff, '0.0');
      try {
        await eventually('the stream to push the board as it is', async () => stream.text(), () => stream.seen(at), 20_000);
        // The first push is done: only a notification of the board's projector makes the next one.
        const pickedUp = await command(t, k.token, m.id, 'pick-up', 4);
        assert.equal(pickedUp.statusCode, 200, pickedUp.body);
        const next = pickedUp.json().position as string;
        await eventually(`the stream to push the change at ${next}`, async () => stream.text(), () => stream.seen(next), 20_000);
        const pushed = stream
          .text()
          .split('\n\n')
          .filter((block) => block.includes('event: order'))
          .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as Item);
        assert.deepEqual(pushed.map((o) => [o.orderId, o.status, o.position]), [[m.id, 'ready', at], [m.id, 'picked_up', next]]);
      } finally {
        await stream.close();
      }
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await Promise.all([admin.end(), holder.end(), watcher.end()]);
    }
  });

  test("a board stream open across its restaurant's move ends after clearing the client's last event id; reconnected without it, it hears the new database", async () => {
    const moving = await seedRestaurant(t, 'Streaming Kitchen');
    const staying = await seedRestaurant(t, 'Neighbour Kitchen');
    const c = await customer(t);
    const k = await courier(t);
    const m = await assignedOrder(moving, c, k);
    const database = (second = await createTestDatabase({ empty: true }));
    // The board has applied the order: the stream, opened from the checkpoint, has nothing to push of
    // the old database.
    await eventually('the board to apply the order', () => get(`/v1/restaurants/${moving.rid}/board?after=${m.position}`, moving.staff), (board) => !board.lagging);
    // Opened before the move: it listens in the shared database, from its checkpoint.
    const opened = await openStream(moving.rid, moving.staff);
    try {
      await eventually('the stream to open', async () => opened.text(), (text) => text.includes(`: board ${moving.rid}`), 20_000);
      await moveTenant({ tenantId: moving.rid, sourceUrl: t.db.url, targetUrl: database.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
      // A change of another restaurant is notified in the shared database and wakes the stream there:
      // its push, routed, finds the restaurant in its new database.
      await assignedOrder(staying, c, k);
      await within(opened.ended, 30_000, 'the stream to end');
      const blocks = opened.text().split('\n\n');
      assert.deepEqual(blocks.at(-2)?.split('\n').filter((line) => !line.startsWith(':')), ['id'], 'its last block clears the last event id');
      assert.ok(!opened.text().includes('event: order'), "no row of the new database under the old one's positions");
    } finally {
      await opened.close();
    }

    // Reconnected as a client whose last event id was cleared (an empty Last-Event-ID, or none).
    const reconnected = await openStream(moving.rid, moving.staff, '');
    try {
      await eventually('the stream to open', async () => reconnected.text(), (text) => text.includes(`: board ${moving.rid}`), 20_000);
      const ready = await command(t, moving.staff, m.id, 'ready', 3);
      assert.equal(ready.statusCode, 200, ready.body);
      const at = ready.json().position as string;
      await eventually(`the stream to push the change at ${at}, made in the new database`, async () => reconnected.text(), () => reconnected.seen(at), 30_000);
    } finally {
      await reconnected.close();
    }
  });
});
