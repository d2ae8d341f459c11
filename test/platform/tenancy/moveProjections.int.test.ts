import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { unitOfWork, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { createEventStore, START } from '../../../src/platform/events/index.ts';
import { runMigrations } from '../../../src/platform/migrations/index.ts';
import { applyBatch, ensureCheckpoint, type Projection } from '../../../src/platform/projections/index.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { orderViewProjections, type OrderViewProjections } from '../../../src/services/ordering/views/index.ts';
import { eventually } from '../../support/eventually.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { assignedOrder, courier, customer, seedRestaurant, type SeededRestaurant } from '../../services/ordering/support.ts';

/**
 * The shared database's projectors run without a tenant, so a move's fence does not hold them. The
 * first two tests force the two ways they wrote a moved restaurant's view rows back into the shared
 * database: a batch in flight across the move's delete, and the process's shared tail of the log,
 * which still held the moved restaurant's events after the delete. The third checks what the move's
 * deletes, which no longer run in the copy's snapshot, do about other work without a tenant.
 */

const SYSTEM: UnitOfWorkContext = { service: 'ordering', actor: { kind: 'system', id: 'test-projector' } };
const VIEW_TABLES = ['board_view', 'customer_orders_view', 'courier_tasks_view'];

interface Fixture {
  readonly t: TestPlatform;
  readonly target: TestDatabase;
  /** The shared database's ordering pool: the projectors' pool, and the key of their shared tail. */
  readonly pool: pg.Pool;
  /** A superuser client of the shared database. */
  readonly admin: pg.Client;
  /** The three order views over an event store object of this test's own (so a tail of its own). */
  readonly views: OrderViewProjections;
  readonly moving: SeededRestaurant;
  readonly staying: SeededRestaurant;
}

/** Two restaurants with two orders each, accepted and assigned (a row in each of the three views), every event readable by the projectors. */
async function start(): Promise<Fixture> {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  const admin = new pg.Client({ connectionString: t.db.url });
  await admin.connect();
  const pool = t.platform.databases.poolFor('ordering');
  const views = orderViewProjections(createEventStore({ schema: 'ordering' }));
  const moving = await seedRestaurant(t, 'Moving Kitchen');
  const staying = await seedRestaurant(t, 'Staying Kitchen');
  const c = await customer(t);
  const k = await courier(t);
  for (const r of [moving, staying, moving, staying]) await assignedOrder(t, r, c, k);
  // The projectors read below the oldest running transaction of the cluster (decision 0011), which
  // other test files hold back at times: wait until every event is readable.
  const total = Number((await admin.query<{ n: string }>('select count(*) as n from ordering.events')).rows[0]!.n);
  await eventually(
    'every event to be readable by the projectors',
    () => unitOfWork(pool, SYSTEM, (tx) => views.board.store.readAll(tx, { after: START, limit: 100_000 })),
    (page) => page.events.length === total,
  );
  return { t, target, pool, admin, views, moving, staying };
}

async function stop(f: Fixture): Promise<void> {
  await f.admin.end();
  await f.t.close();
  await f.target.drop();
}

/** One batch of `projection` on the shared database, as its runner runs it. */
const batch = (f: Fixture, projection: Projection) => unitOfWork(f.pool, SYSTEM, (tx) => applyBatch(tx, projection, 1000, { database: f.pool }));

/** Batches until one reads nothing. */
async function toHead(f: Fixture, projection: Projection): Promise<void> {
  while ((await batch(f, projection)).read > 0);
}

const move = (f: Fixture) => moveTenant({ tenantId: f.moving.rid, sourceUrl: f.t.db.url, targetUrl: f.target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });

/** Rows of restaurant `rid` in each view table of the shared database. */
async function viewRows(f: Fixture, rid: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of VIEW_TABLES) {
    counts[table] = Number((await f.admin.query<{ n: string }>(`select count(*) as n from ordering.${table} where tenant_id = $1`, [rid])).rows[0]!.n);
  }
  return counts;
}

const NONE = { board_view: 0, customer_orders_view: 0, courier_tasks_view: 0 };
const BOTH_ORDERS = { board_view: 2, customer_orders_view: 2, courier_tasks_view: 2 };

test("a projector batch in flight when a move starts: the move waits for it, and the moved restaurant's view rows it wrote are deleted with the rest", async () => {
  const f = await start();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  try {
    for (const projection of f.views.all) await unitOfWork(f.pool, SYSTEM, (tx) => ensureCheckpoint(tx, projection));
    // Forced interleaving: the board's batch has locked its checkpoint row and written the moved
    // restaurant's rows, and stays open until the move is seen waiting.
    let applied!: (rows: number) => void;
    const wrote = new Promise<number>((resolve) => (applied = resolve));
    const inFlight = unitOfWork(f.pool, SYSTEM, async (tx) => {
      const result = await applyBatch(tx, f.views.board, 1000, { database: f.pool });
      applied(Number((await tx.query<{ n: string }>('select count(*) as n from ordering.board_view where tenant_id = $1', [f.moving.rid])).rows[0]!.n));
      await held;
      return result;
    });
    const early = inFlight.then(() => assert.fail('the held batch ended before it was released'));
    assert.equal(await Promise.race([wrote, early]), 2, "the batch in flight wrote the moving restaurant's two board rows");

    const watcher = new pg.Client({ connectionString: f.t.db.url });
    await watcher.connect();
    let moved = false;
    const moving = move(f).then((result) => {
      moved = true;
      return result;
    });
    try {
      const seen = await eventually(
        'the move to wait for the batch in flight, or to end',
        async () => ({
          moved,
          waiting: Number(
            (
              await watcher.query<{ n: string }>(
                `select count(*) as n from pg_stat_activity
                  where datname = current_database() and application_name = 'brigade-tenant-move' and wait_event_type = 'Lock' and query ilike 'lock table%'`,
              )
            ).rows[0]!.n,
          ),
        }),
        (s) => s.moved || s.waiting > 0,
      );
      assert.deepEqual(seen, { moved: false, waiting: 1 }, 'the move waits for the projector batch in flight before it deletes the view rows');
    } finally {
      release();
      await watcher.end();
    }
    const result = await inFlight;
    assert.ok(result.read > 0);
    await moving;

    assert.deepEqual(await viewRows(f, f.moving.rid), NONE, "the batch's rows of the moved restaurant went with the move");
    for (const projection of f.views.all) await toHead(f, projection);
    assert.deepEqual(await viewRows(f, f.moving.rid), NONE, 'and no batch after the move wrote any again');
    assert.deepEqual(await viewRows(f, f.staying.rid), BOTH_ORDERS, "the other restaurant's orders are in every view");
  } finally {
    release();
    await stop(f);
  }
});

test("a stale shared tail: projections behind the one that read the moved restaurant's events are not served them after the move", async () => {
  const f = await start();
  try {
    // The board reads the whole log: the process's tail of the log (per store, service and database)
    // now holds the moved restaurant's events, from the start of the log. The customers' orders view
    // has a checkpoint row at the start of the log and has run no batch: it is behind, inside the tail.
    for (const projection of [f.views.board, f.views.customerOrders]) await unitOfWork(f.pool, SYSTEM, (tx) => ensureCheckpoint(tx, projection));
    await toHead(f, f.views.board);
    assert.deepEqual((await viewRows(f, f.moving.rid)).board_view, 2);

    await move(f);
    assert.deepEqual(await viewRows(f, f.moving.rid), NONE, 'the move deleted the board rows');

    // The couriers' tasks view gets its checkpoint row only now, and runs first: a new row must not
    // start under the epoch the tail was read under.
    await unitOfWork(f.pool, SYSTEM, (tx) => ensureCheckpoint(tx, f.views.courierTasks));
    await toHead(f, f.views.courierTasks);
    await toHead(f, f.views.customerOrders);
    await toHead(f, f.views.board);
    assert.deepEqual(await viewRows(f, f.moving.rid), NONE, "no view of the shared database has a row of the moved restaurant");
    assert.deepEqual(await viewRows(f, f.staying.rid), BOTH_ORDERS, "the other restaurant's orders are in every view");
  } finally {
    await stop(f);
  }
});

test('a row that is not a view row, changed by work without a tenant while the copy runs, fails the move: the change is kept, and the move runs again', async () => {
  const f = await start();
  const holder = new pg.Client({ connectionString: f.target.url });
  const watcher = new pg.Client({ connectionString: f.target.url });
  try {
    const order = (await f.admin.query<{ order_id: string; customer_id: string }>('select order_id, customer_id from ordering.order_index where tenant_id = $1 limit 1', [f.moving.rid])).rows[0]!;
    // Forced interleaving: the target is migrated first, and an open transaction of it holds the key
    // of one of the moving restaurant's order_index rows, so the copy waits at that row, after its
    // snapshot of the source was taken.
    await runMigrations({ url: f.target.url, sets: migrationSets() });
    await Promise.all([holder.connect(), watcher.connect()]);
    await holder.query('begin');
    await holder.query('insert into ordering.order_index (tenant_id, order_id, customer_id) values ($1, $2, $3)', [f.moving.rid, order.order_id, order.customer_id]);
    let ended = false;
    const moving = move(f).then(
      () => {
        ended = true;
        return null;
      },
      (error: unknown) => {
        ended = true;
        return error;
      },
    );
    const seen = await eventually(
      'the copy to wait for the held row, or the move to end',
      async () => ({
        ended,
        waiting: Number(
          (await watcher.query<{ n: string }>(`select count(*) as n from pg_stat_activity where datname = current_database() and application_name = 'brigade-tenant-move' and wait_event_type = 'Lock'`)).rows[0]!.n,
        ),
      }),
      (s) => s.ended || s.waiting > 0,
    );
    assert.deepEqual(seen, { ended: false, waiting: 1 });
    // Work without a tenant (as a saga runner's claim or a deadline's firing is) changes the row in
    // the source after the copy's snapshot; the fence does not stop it.
    const courierId = '00000000-0000-4000-8000-0000000000c1';
    await f.admin.query('update ordering.order_index set courier_id = $3 where tenant_id = $1 and order_id = $2', [f.moving.rid, order.order_id, courierId]);
    await holder.query('rollback');
    const error = await moving;
    assert.ok(error instanceof BrigadeError, `the move fails (${String(error)})`);
    assert.equal(error.code, 'TENANT_CHANGED_DURING_MOVE');
    assert.equal(error.details.table, 'ordering.order_index');

    // Nothing moved: the source still holds every row, with the change, and no placement.
    const courierOf = async (db: pg.Client) =>
      (await db.query<{ courier_id: string | null }>('select courier_id from ordering.order_index where tenant_id = $1 and order_id = $2', [f.moving.rid, order.order_id])).rows[0]?.courier_id;
    assert.equal(await courierOf(f.admin), courierId);
    assert.equal(Number((await f.admin.query<{ n: string }>('select count(*) as n from ordering.order_index where tenant_id = $1', [f.moving.rid])).rows[0]!.n), 2);
    assert.equal((await f.admin.query('select 1 from platform.tenant_placements where tenant_id = $1', [f.moving.rid])).rowCount, 0);

    // Run again, the move copies the row as it is now.
    await move(f);
    assert.equal(await courierOf(watcher), courierId);
    assert.equal((await f.admin.query('select 1 from ordering.order_index where tenant_id = $1', [f.moving.rid])).rowCount, 0);
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end().catch(() => undefined);
    await watcher.end().catch(() => undefined);
    await stop(f);
  }
});
