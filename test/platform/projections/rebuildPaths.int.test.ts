import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createEventStore, type GlobalPosition } from '../../../src/platform/events/index.ts';
import { HorizonStalledError, RebuildCancelledError, RebuildSwapBlockedError, rebuildProjection, type RebuildProgress } from '../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { append, drain, event, freshFold, newOrder, placed, viewRows } from '../../services/ordering/views/support.ts';
import { deferred } from '../messaging/support.ts';
import { COUNTS_DDL, countingProjection } from './fixtures/countingProjection.ts';

const { board } = ORDER_VIEWS;

describe('rebuild paths: through apply, in memory past its memory bound, and behind a transaction open since before it', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  const tenants = [randomUUID(), randomUUID()];
  const store = createEventStore({ schema: 'ordering' });

  before(async () => {
    pool = database.pool(8);
    admin = database.pool(2);
    await admin.query(COUNTS_DDL);
  });

  /** An order some way through its lifecycle; returns the last position. */
  const order = async (i: number): Promise<GlobalPosition> => {
    const o = newOrder(tenants[i % 2]!);
    let last = await append(pool, o, [placed(o)]);
    if (i % 2 === 0) last = await append(pool, o, [event(o, 'OrderAccepted', { etaMinutes: 10 }), event(o, 'ItemPrepared', { lineId: o.lineIds[0] })]);
    if (i % 3 === 0) last = await append(pool, o, [event(o, 'OrderReady')]);
    return last;
  };

  test('a projection without replay is rebuilt through apply, under appends: every event counted exactly once', async () => {
    const counting = countingProjection();
    const countEvents = async (i: number) =>
      (
        await unitOfWork(pool, { service: 'ordering', tenantId: tenants[i % 2]!, actor: { kind: 'system', id: 'test' } }, (tx) =>
          store.append(tx, `counter-${i % 7}`, [{ type: 'Counted', data: { i } }, { type: 'Counted', data: { i } }], 'any'),
        )
      ).events.at(-1)!.globalPosition;
    let head: GlobalPosition | undefined;
    for (let i = 0; i < 40; i++) head = await countEvents(i);
    let appended = 40;
    // Transaction ids are cluster-wide: another test file's open transaction may hold the read bound
    // back, so the rebuild may swap in less and leave the rest to the projector (decision 0011).
    await rebuildProjection(pool, counting, {
      batchSize: 9,
      afterBatch: async () => {
        head = await countEvents(appended++);
      },
      beforeSwap: async () => {
        head = await countEvents(appended++);
      },
    });
    await drain(pool, counting, head!);
    const counted = (await admin.query(`select tenant_id::text || '/' || stream_id as k, n from ordering.crash_counts order by 1`)).rows;
    const logged = (await admin.query(`select tenant_id::text || '/' || stream_id as k, count(*)::int as n from ordering.events where stream_id like 'counter-%' group by 1 order by 1`)).rows;
    assert.deepEqual(counted, logged);
  });

  test('past its memory bound the replay writes, forgets and reads rows back: the view still equals a fresh fold', async () => {
    let head: GlobalPosition | undefined;
    for (let i = 0; i < 30; i++) head = await order(i);
    let appended = 30;
    const phases = new Set<string>();
    // A grantee whose name needs quoting, a '"' included: the swapped-in table must name it exactly.
    const reader = `Board "Reader" ${randomUUID().slice(0, 8)}`;
    await admin.query(`create role ${pg.escapeIdentifier(reader)}`);
    // Roles outlive the test's database: this one goes whatever happens.
    database.defer(async () => {
      await admin.query(`drop owned by ${pg.escapeIdentifier(reader)}`);
      await admin.query(`drop role ${pg.escapeIdentifier(reader)}`);
    });
    await admin.query(`grant select on ordering.board_view to ${pg.escapeIdentifier(reader)}`);
    await rebuildProjection(pool, board, {
      batchSize: 7,
      rowsInMemory: 5,
      onProgress: (p) => phases.add(p.phase),
      afterBatch: async (events) => {
        if (events % 14 === 0) head = await order(appended++);
      },
      beforeSwap: async () => {
        head = await order(appended++);
      },
    });
    // 'waiting' only when another test file's transaction, open when the rebuild started, held the read bound.
    assert.deepEqual([...phases].filter((p) => p !== 'waiting'), ['replaying', 'swapping', 'done']);
    await drain(pool, board, head!);
    const rows = await viewRows(admin, 'board_view');
    assert.equal(rows.length, appended);
    assert.deepEqual(rows, await freshFold(admin, pool, board), 'the swapped-in view equals a fresh fold of all events');
    const grants = (await admin.query(`select grantee, privilege_type from information_schema.role_table_grants where table_schema = 'ordering' and table_name = 'board_view' order by 1, 2`)).rows;
    assert.ok(grants.some((g) => g.grantee === 'brigade_ordering' && g.privilege_type === 'SELECT'), 'the swapped-in table has the live grants');
    assert.ok(grants.some((g) => g.grantee === reader && g.privilege_type === 'SELECT'), `the grant to ${reader} came over: ${JSON.stringify(grants)}`);
  });

  /** Appends an order's placement in a transaction that stays open until `release` resolves. */
  const openAppend = async (release: Promise<void>) => {
    const o = newOrder(tenants[0]!);
    const appended = deferred<number>();
    const done = unitOfWork(pool, { service: 'ordering', tenantId: o.tenantId, actor: { kind: 'system', id: 'test' } }, async (tx) => {
      await store.append(tx, `order-${o.orderId}`, [placed(o)], 'any');
      appended.resolve((await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
      await release;
    });
    const pid = await appended.promise;
    return { orderId: o.orderId, pid, done };
  };

  test('a transaction open when the rebuild starts: the swap waits for it, and what it commits is in the new view', async () => {
    const release = deferred();
    const late = await openAppend(release.promise);
    const phases: string[] = [];
    try {
      await rebuildProjection(pool, board, {
        onProgress: (p) => {
          phases.push(p.phase);
          if (p.phase === 'waiting') release.resolve();
        },
      });
    } finally {
      release.resolve();
      await late.done;
    }
    assert.ok(phases.includes('waiting'), `the rebuild waited (phases: ${phases.join(', ')})`);
    const rows = await viewRows(admin, 'board_view');
    assert.ok(rows.some((r) => r.order_id === late.orderId), 'the late transaction’s order is in the swapped-in view');
  });

  test('behind a transaction open since before it, the rebuild reports every horizonReportMs how long it has waited, for which backend, and when it gives up; its events/s leaves the wait out', async () => {
    for (let i = 0; i < 6; i++) await order(i);
    const release = deferred();
    const late = await openAppend(release.promise);
    const waits: RebuildProgress[] = [];
    let done: RebuildProgress | undefined;
    // Released after four reports of the wait; after 10 s whatever came, so that too few fail the test, not hang it.
    const giveUp = setTimeout(() => release.resolve(), 10_000);
    try {
      await rebuildProjection(pool, board, {
        horizonReportMs: 100,
        onProgress: (p) => {
          if (p.phase === 'waiting') waits.push(p);
          if (waits.length >= 4) release.resolve();
          if (p.phase === 'done') done = p;
        },
      });
    } finally {
      clearTimeout(giveUp);
      release.resolve();
      await late.done;
    }
    assert.ok(waits.length >= 4, `the wait was reported again and again (${waits.length} times)`);
    for (const [i, p] of waits.entries()) {
      const wait = p.waiting;
      assert.ok(wait !== null, 'a report of the wait says what it waits for');
      assert.equal(wait.timeoutSeconds, 300, 'and when it gives up');
      if (i > 0) assert.ok(wait.waitedSeconds > waits[i - 1]!.waiting!.waitedSeconds, 'and how long it has waited');
      assert.ok(wait.holder !== null, 'the transaction is named');
      assert.ok('pid' in wait.holder, 'no prepared transactions on this server');
      if (wait.holder.pid !== late.pid) {
        // Another test file's older transaction may hold the cluster's horizon too; never one of this database.
        const other = await admin.query<{ datname: string | null }>('select datname from pg_stat_activity where pid = $1', [wait.holder.pid]);
        assert.notEqual(other.rows[0]?.datname, database.db.name, `backend ${wait.holder.pid} is not the open append's (${late.pid})`);
      } else {
        assert.equal(wait.holder.state, 'idle in transaction');
      }
    }
    assert.ok(done !== undefined);
    assert.equal(done.waiting, null, 'out of the wait, nothing is waited for');
    assert.ok(done.waitSeconds >= 0.3, `the wait is counted (${done.waitSeconds} s)`);
    const replaySeconds = done.seconds - done.waitSeconds;
    assert.ok(Math.abs(done.eventsPerSecond * replaySeconds - done.events) < 0.5, `events/s (${done.eventsPerSecond}) is over the ${replaySeconds.toFixed(3)} s of replay, not the ${done.seconds.toFixed(3)} s with the wait`);
  });

  test('a transaction that stays open past horizonTimeoutMs: the rebuild gives up naming it, and the live view stays', async () => {
    const before = await viewRows(admin, 'board_view');
    const release = deferred();
    const late = await openAppend(release.promise);
    try {
      await assert.rejects(rebuildProjection(pool, board, { horizonTimeoutMs: 300 }), (e: unknown) => {
        assert.ok(e instanceof HorizonStalledError);
        assert.equal(e.code, 'PROJECTION_HORIZON_STALLED');
        // The oldest transaction of the server may be another test's, in its own database: then named with it.
        assert.match(e.message, /transaction of backend pid \d+(?: of database \S+ \(another database of this server\))? \(open \d+ s, .*pg_terminate_backend/);
        return true;
      });
    } finally {
      release.resolve();
      await late.done;
    }
    assert.deepEqual(await viewRows(admin, 'board_view'), before, 'the live view is untouched');
    const shadow = await admin.query(`select to_regclass('ordering.board_view_rebuild') as t`);
    assert.equal(shadow.rows[0].t, null, 'the shadow table is dropped');
  });

  test('a session that holds the view (a report left idle in its transaction): the swap gives up within its lock timeout, naming it, instead of queueing every read behind it', async () => {
    const before = await viewRows(admin, 'board_view');
    const report = await admin.connect();
    try {
      await report.query('begin');
      await report.query('select count(*) from ordering.board_view');
      const started = Date.now();
      const reads: number[] = [];
      // A reader during the swap waits at most the lock timeout (before: until the report ended).
      const reading = (async () => {
        await new Promise((r) => setTimeout(r, 150));
        const t0 = Date.now();
        await pool.query('select count(*) from ordering.board_view');
        reads.push(Date.now() - t0);
      })();
      await assert.rejects(rebuildProjection(pool, board, { swapLockTimeoutMs: 600 }), (e: unknown) => {
        assert.ok(e instanceof RebuildSwapBlockedError, String(e));
        assert.equal(e.code, 'PROJECTION_REBUILD_SWAP_BLOCKED');
        assert.match(e.message, /could not take "ordering"."board_view" within 0\.6 s: backend \d+ \(in its transaction \d+ s, idle in transaction: .*run the rebuild again/);
        return true;
      });
      await reading;
      assert.equal(reads.length, 1, 'the read during the swap was answered');
      assert.ok(Date.now() - started < 60_000);
    } finally {
      await report.query('rollback').catch(() => undefined);
      report.release();
    }
    assert.deepEqual(await viewRows(admin, 'board_view'), before, 'the live view is untouched');
    assert.equal((await admin.query(`select to_regclass('ordering.board_view_rebuild') as t`)).rows[0].t, null, 'the shadow table is dropped');
    await rebuildProjection(pool, board);
    // (It may hold more: the test before appended after the live view was read, with no projector running.)
    assert.ok((await viewRows(admin, 'board_view')).length >= before.length, 'once the report ended, the rebuild swaps in');
  });
  test('a rebuild whose signal aborts (Ctrl+C) stops before its swap at every step: during the replay, in the horizon wait and inside the swap; the copy is dropped and the live view stays', async () => {
    for (let i = 0; i < 12; i++) await order(i);
    await rebuildProjection(pool, board); // the live view at the head, to compare with
    for (let i = 12; i < 24; i++) await order(i); // left for the rebuild: the live view must not get them
    const before = await viewRows(admin, 'board_view');
    const refused = (e: unknown) => {
      assert.ok(e instanceof RebuildCancelledError, String(e));
      assert.equal(e.code, 'PROJECTION_REBUILD_CANCELLED');
      assert.match(e.message, /stopped by SIGINT before its swap: its copy was dropped and the live view is unchanged/);
      return true;
    };
    const untouched = async (step: string) => {
      assert.deepEqual(await viewRows(admin, 'board_view'), before, `the live view is untouched (${step})`);
      assert.equal((await admin.query(`select to_regclass('ordering.board_view_rebuild') as t`)).rows[0].t, null, `the copy is dropped (${step})`);
    };

    // During the replay, after its first page: it stops there, not after the rest of the log.
    let stop = new AbortController();
    let pagesAfterAbort = 0;
    await assert.rejects(
      rebuildProjection(pool, board, {
        batchSize: 5,
        signal: stop.signal,
        afterBatch: async () => {
          if (stop.signal.aborted) pagesAfterAbort++;
          stop.abort('SIGINT');
        },
      }),
      refused,
    );
    assert.equal(pagesAfterAbort, 0, 'no page was replayed after the abort');
    await untouched('replay');

    // In the horizon wait, behind a transaction open since before the rebuild: it does not wait for it.
    const release = deferred();
    const late = await openAppend(release.promise);
    try {
      stop = new AbortController();
      const started = Date.now();
      await assert.rejects(
        rebuildProjection(pool, board, { horizonTimeoutMs: 120_000, signal: stop.signal, onProgress: (p) => p.phase === 'waiting' && stop.abort('SIGINT') }),
        refused,
      );
      assert.ok(Date.now() - started < 60_000, 'it stopped without waiting for the open transaction');
    } finally {
      release.resolve();
      await late.done;
    }
    await untouched('horizon wait');

    // Inside the swap transaction, after its catch-up and before the rename.
    stop = new AbortController();
    await assert.rejects(rebuildProjection(pool, board, { signal: stop.signal, beforeSwap: async () => stop.abort('SIGINT') }), refused);
    await untouched('swap');
    const checkpoint = await admin.query(`select position::text as p from ordering.projection_checkpoints where name = 'board'`);

    // An abort that comes after the swap committed changes nothing: the rebuild is done.
    stop = new AbortController();
    const done = await rebuildProjection(pool, board, { signal: stop.signal, onProgress: (p) => p.phase === 'done' && stop.abort('SIGINT') });
    assert.ok(done.rows > before.length, 'the rebuild swapped in the orders appended after the live view');
    assert.notEqual((await admin.query(`select position::text as p from ordering.projection_checkpoints where name = 'board'`)).rows[0].p, checkpoint.rows[0].p);
  });
});
