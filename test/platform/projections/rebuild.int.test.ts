import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import type { GlobalPosition } from '../../../src/platform/events/index.ts';
import { comparePositions, rebuildProjection, RebuildInProgressError, runProjection, type RebuildProgress } from '../../../src/platform/projections/index.ts';
import { findTenancyViolations } from '../../../src/platform/tenancy/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { holdOpen } from '../events/support.ts';
import { append, drain, event, freshFold, newOrder, placed, store, viewRows } from '../../services/ordering/views/support.ts';
import { FLOW_MS } from '../../support/eventually.ts';

const { board } = ORDER_VIEWS;

describe('blue/green rebuild under load', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  const tenants = [randomUUID(), randomUUID(), randomUUID()];

  before(() => {
    pool = database.pool(12);
    admin = database.pool(2);
  });

  /** An order driven some way through its lifecycle. */
  const order = async (i: number): Promise<GlobalPosition> => {
    const o = newOrder(tenants[i % 3]!);
    let last = await append(pool, o, [placed(o)]);
    if (i % 2 === 0) last = await append(pool, o, [event(o, 'OrderAccepted', { etaMinutes: 10 }), event(o, 'ItemPrepared', { lineId: o.lineIds[1] })]);
    if (i % 3 === 0) last = await append(pool, o, [event(o, 'OrderCancelled', { by: 'staff', reason: 'closing' })]);
    return last;
  };
  const count = async () =>
    Number((await unitOfWork(pool, { service: 'ordering', actor: { kind: 'admin', id: 'reader' }, readOnly: true }, (tx) => tx.query('select count(*) as n from ordering.board_view'))).rows[0]!.n);

  test('appends continue during the replay, the catch-up and the swap; the result equals a fresh fold, and reads never see a partial view', async () => {
    let head: GlobalPosition = { transactionId: 0n, position: 0n };
    for (let i = 0; i < 60; i++) head = await order(i);
    const indexesBefore = (await admin.query(`select indexname from pg_indexes where schemaname = 'ordering' and tablename = 'board_view' order by 1`)).rows;

    // The live projector serves throughout.
    const stopLive = new AbortController();
    const live = runProjection(pool, board, { batchSize: 50, idleMs: 5, lockRetryMs: 20 });
    const liveRun = live.run(stopLive.signal);
    await drain(pool, board, head).catch(() => undefined); // the runner and drain share the row lock; either may apply
    const countBefore = await count();
    assert.ok(countBefore >= 60);

    // Load: appends in a loop until told to stop.
    let loading = true;
    let appended = 60;
    const load = (async () => {
      while (loading) head = await order(appended++);
    })();
    // Readers: the live view never shrinks (never empty, never partial) across the swap.
    let reading = true;
    let minSeen = Infinity;
    let lastSeen = countBefore;
    const reader = (async () => {
      while (reading) {
        const n = await count();
        assert.ok(n >= lastSeen, `the live view went from ${lastSeen} to ${n} rows`);
        lastSeen = n;
        minSeen = Math.min(minSeen, n);
      }
    })();

    // Forced interleavings: a transaction that appended before the catch-up and commits only after the
    // swap (a late commit), appends committed during the replay, and one committed inside the swap
    // transaction while the live projector is paused.
    const late = newOrder(tenants[0]!);
    let held: Awaited<ReturnType<typeof holdOpen>> | undefined;
    const phases: RebuildProgress['phase'][] = [];
    let secondRebuild: unknown;
    const result = await rebuildProjection(pool, board, {
      batchSize: 40,
      onProgress: (p) => phases.push(p.phase),
      afterBatch: async (events) => {
        if (events === 40) {
          for (let i = 0; i < 5; i++) head = await order(appended++);
          held = await holdOpen(pool, { service: 'ordering', tenantId: late.tenantId, actor: { kind: 'staff', id: randomUUID() } }, (tx) =>
            store.append(tx, `order-${late.orderId}`, [placed(late)], 0),
          );
          secondRebuild = await rebuildProjection(pool, board).catch((error: unknown) => error);
        }
      },
      beforeSwap: async () => {
        head = await order(appended++);
        assert.ok((await count()) >= countBefore, 'the live view is readable while the swap transaction holds the checkpoint');
        await held!.commit();
      },
    });
    assert.ok(secondRebuild instanceof RebuildInProgressError, 'a second rebuild of the same projection is refused');
    assert.deepEqual([phases[0], phases.at(-2), phases.at(-1)], ['replaying', 'swapping', 'done']);
    assert.ok(result.events >= 60 * 2);

    for (let i = 0; i < 5; i++) head = await order(appended++);
    loading = false;
    await load;
    reading = false;
    await reader;
    assert.ok(minSeen >= countBefore);

    // Drain the live projector past every append (and the late commit), then compare row by row.
    const lateRow = async () => (await viewRows(admin, 'board_view')).some((r) => r.order_id === late.orderId);
    const deadline = Date.now() + FLOW_MS;
    for (;;) {
      const cp = (await admin.query<{ t: string; p: string }>(`select transaction_id::text as t, position::text as p from ordering.projection_checkpoints where name = 'board'`)).rows[0]!;
      if (comparePositions({ transactionId: BigInt(cp.t), position: BigInt(cp.p) }, head) >= 0 && (await lateRow())) break;
      if (Date.now() > deadline) throw new Error('the live projector did not catch up after the swap');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stopLive.abort();
    await liveRun;
    const rows = await viewRows(admin, 'board_view');
    assert.equal(rows.length, appended + 1, 'one row per order, the late one included');
    assert.deepEqual(rows, await freshFold(admin, pool, board), 'the swapped-in view equals a fresh fold of all events');

    // The new table is the old one's twin: index names, RLS forced, policies, grants; no leftovers.
    assert.deepEqual((await admin.query(`select indexname from pg_indexes where schemaname = 'ordering' and tablename = 'board_view' order by 1`)).rows, indexesBefore);
    const tables = (await admin.query(`select tablename from pg_tables where schemaname = 'ordering' and tablename like 'board_view%' order by 1`)).rows.map((r) => r.tablename);
    assert.deepEqual(tables, ['board_view']);
    assert.deepEqual(await findTenancyViolations(admin, ['ordering']), []);
    const policies = (await admin.query(`select policyname from pg_policies where schemaname = 'ordering' and tablename = 'board_view' order by 1`)).rows.map((r) => r.policyname);
    assert.deepEqual(policies, ['board_view_projector', 'board_view_read']);
    const staffSees = await unitOfWork(pool, { service: 'ordering', tenantId: tenants[1]!, actor: { kind: 'staff', id: randomUUID() }, readOnly: true }, (tx) =>
      tx.query<{ tenant_id: string }>('select distinct tenant_id from ordering.board_view'),
    );
    assert.deepEqual(staffSees.rows.map((r) => r.tenant_id), [tenants[1]]);
  });
});
