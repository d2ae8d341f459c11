import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import { unitOfWork } from '../../../../src/platform/db/index.ts';
import { applyBatch, comparePositions, ensureCheckpoint, formatPosition } from '../../../../src/platform/projections/index.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { FLOW_MS, within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, newOrder, openBoardStream, placed } from './support.ts';

const { board } = ORDER_VIEWS;
const HEARTBEAT_MS = 50;

/** The stream's read of the board view, as pg_stat_activity shows it while it runs. */
const STREAM_READ = 'select to_jsonb(t) as row from ordering.board_view t%';

// No projector runs here: each test projects its events itself, the first in a transaction it holds open.
describe('a board stream whose read of the view fails', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let platform: Platform;
  let base: string;

  before(async () => {
    pool = database.pool(4);
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, { services: [{ name: 'ordering', routes: createViewRoutes({ heartbeatMs: HEARTBEAT_MS }) }], logger: false });
    database.defer(() => platform.close());
    base = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  });

  const metric = async (name: string) => (await platform.deps.metrics.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  const orderEvents = (text: string) => text.split('\n\n').filter((block) => block.includes('\nevent: order\n'));

  test("a notified read that fails is read again at the next heartbeat: the order reaches the board with no other change (before: only the database's next board change, maybe another restaurant's, read again)", async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const stream = await openBoardStream(base, rid, staff);
    await stream.until((t) => t.includes('event: start') && t.includes(': heartbeat'));
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);

    // The interleaving, forced: the batch that writes the order queues an exclusive lock on the view
    // behind its own before it commits, so the lock is granted at that commit, before the stream hears
    // the batch's NOTIFY; the stream's read then waits on it, and its connection is cut there (a lost
    // connection, a failover). Nothing else changes afterwards: no batch notifies again.
    const locker = await pool.connect();
    try {
      const [{ pid: lockerPid }] = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows as [{ pid: number }];
      let lock: Promise<unknown> | undefined;
      for (let tries = 0; lock === undefined; tries++) {
        if (tries > FLOW_MS / 10) throw new Error('the order was never projected');
        await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'test-projector' } }, async (tx) => {
          await ensureCheckpoint(tx, board);
          const batch = await applyBatch(tx, board, 500);
          // Another test file's open transaction can hold the log's bound back for a moment (decision 0011).
          if (comparePositions(batch.checkpoint, p1) < 0) return;
          await locker.query('begin');
          lock = locker.query('lock table ordering.board_view in access exclusive mode');
          for (let i = 0; ; i++) {
            const { rows } = await pool.query('select 1 from pg_locks where pid = $1 and not granted', [lockerPid]);
            if (rows.length > 0) break;
            if (i > 1000) throw new Error('the lock never queued behind the batch');
            await sleep(5);
          }
        });
        if (lock === undefined) await sleep(10);
      }
      await lock;
      let cut = 0;
      for (let i = 0; cut === 0; i++) {
        if (i > 2000) throw new Error("the stream's read never waited on the lock");
        const { rows } = await pool.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like $1`,
          [STREAM_READ],
        );
        cut = rows.length;
        if (cut === 0) await sleep(5);
      }
      assert.equal(cut, 1, 'one read waited, and its connection was cut');
    } finally {
      await locker.query('rollback').catch(() => undefined);
      locker.release();
    }

    await within(stream.until((t) => t.includes(`id: ${formatPosition(p1)}\nevent: order`)), 10_000, 'the order on the stream after its failed read');
    assert.equal(orderEvents(stream.text()).length, 1, 'the order once');
    assert.ok(await metric('brigade_board_stream_read_failures_total') >= 1, 'the failed read is counted');
    await stream.close();
  });

  test('a read that fails every time is tried once a heartbeat, not in a loop; the stream gets the order once reads work again; a client that leaves meanwhile leaves nothing behind', async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    // Where the streams resume from: before the order.
    const first = await openBoardStream(base, rid, staff);
    await first.until((t) => /\nid: \d+\.\d+\nevent: start\n/.test(t));
    const [, from] = /\nid: (\d+\.\d+)\nevent: start\n/.exec(first.text()) ?? [];
    await first.close();
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);
    await drain(pool, board, p1);
    const platformPool = platform.deps.databases.poolFor('ordering');
    const inUse = () => platformPool.totalCount - platformPool.idleCount;
    /** Until no stream is open, and a read or token check a closed one had on its way has ended. */
    const streamsGone = async () => {
      for (let i = 0; (await metric('brigade_board_streams')) > 0; i++) {
        if (i > 500) throw new Error('the stream never closed');
        await sleep(10);
      }
      await sleep(2 * HEARTBEAT_MS);
    };
    // Taken once the first stream's last read or token check has let its connection go (it held one a
    // moment after its close, and the baseline counted it: CI, forty-fifth session).
    await streamsGone();
    const inUseBefore = inUse(); // the LISTEN connection
    const failures = () => metric('brigade_board_stream_read_failures_total');
    const heartbeats = (n: number) => (t: string) => (t.match(/: heartbeat\n/g) ?? []).length >= n;

    // Every read of the view by the service's role fails at once (permission denied) while this lasts.
    const denied = () => pool.query('revoke select on ordering.board_view from brigade_ordering');
    const allowed = () => pool.query('grant select on ordering.board_view to brigade_ordering');
    await denied();
    try {
      const failedBefore = await failures();
      const began = performance.now();
      const stream = await openBoardStream(base, rid, staff, { 'last-event-id': from as string });
      await stream.until(heartbeats(20));
      const failed = (await failures()) - failedBefore;
      const beats = Math.ceil((performance.now() - began) / HEARTBEAT_MS);
      assert.ok(failed >= 2, `the read is tried again (${failed} failed reads)`);
      // The first read, then at most one a heartbeat: a retry at once fails over a thousand times here.
      assert.ok(failed <= beats + 1, `${failed} failed reads in ${beats} heartbeats`);
      assert.equal(orderEvents(stream.text()).length, 0);

      await allowed();
      await stream.until((t) => t.includes(`id: ${formatPosition(p1)}\nevent: order`));
      const afterSuccess = await failures();
      await stream.until(heartbeats(30));
      assert.equal(await failures(), afterSuccess, 'a read that worked is not tried again');
      assert.equal(orderEvents(stream.text()).length, 1, 'the order once');
      await stream.close();

      // A client that leaves while every read fails: its stream stops trying, and holds no connection.
      await denied();
      const leaving = await openBoardStream(base, rid, staff, { 'last-event-id': from as string });
      const failing = await failures();
      await leaving.until(heartbeats(3));
      assert.ok((await failures()) > failing, 'its reads fail');
      await leaving.close();
      // A read already on its way when the client left may still fail (counted after the close).
      await streamsGone();
      const closedAt = await failures();
      await sleep(10 * HEARTBEAT_MS);
      assert.equal(await failures(), closedAt, 'a closed stream reads nothing more');
      assert.deepEqual([inUse(), platformPool.waitingCount], [inUseBefore, 0], 'no connection held or awaited but the LISTEN one');
    } finally {
      await allowed();
    }
  });
});
