import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { test } from 'node:test';
import pg from 'pg';
import { depsForDatabase } from '../../../../src/platform/runtime/index.ts';
import { createViewWorkers } from '../../../../src/services/ordering/views/index.ts';
import { createTestDatabase } from '../../../support/db.ts';
import { eventually } from '../../../support/eventually.ts';
import { startTestPlatform } from '../../../support/platform.ts';
import { append, newOrder, placed } from './support.ts';

test('the view workers of two databases take turns per database: a batch stuck in one does not hold up the views of the other', async () => {
  const t = await startTestPlatform();
  const dedicated = await createTestDatabase();
  const admin = new pg.Pool({ connectionString: dedicated.url, max: 2 });
  const sharedAdmin = new pg.Pool({ connectionString: t.db.url, max: 1 });
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  let holder: pg.PoolClient | undefined;
  const running: Promise<void>[] = [];
  try {
    const deps = t.platform.deps;
    for (const worker of createViewWorkers()) {
      running.push(worker.run(deps, stop.signal), worker.run(depsForDatabase(deps, dedicated.url, 'ordering'), stop.signal));
    }
    // Both databases' projectors run: the dedicated one has its three checkpoint rows.
    await eventually('the dedicated database projectors', async () => Number((await admin.query('select count(*) as n from ordering.projection_checkpoints')).rows[0].n), (n) => n === 3);

    // Every batch in the dedicated database now waits for its checkpoint row (select … for update), held
    // off by a table lock: unlike a row lock it takes no transaction id, which is cluster-wide and would
    // hold back the shared database's readers too (decision 0011), not only its projectors' turns.
    holder = await admin.connect();
    await holder.query('begin');
    await holder.query('lock table ordering.projection_checkpoints in exclusive mode');
    await eventually(
      'a batch of the dedicated database waiting for its checkpoint row',
      async () => Number((await admin.query(`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)).rows[0].n),
      (n) => n > 0,
    );

    // The shared database's views still follow its events.
    const order = newOrder(randomUUID());
    await append(deps.databases.poolFor('ordering'), order, [placed(order)]);
    await eventually(
      "the shared database's board row",
      async () => Number((await sharedAdmin.query('select count(*) as n from ordering.board_view where order_id = $1', [order.orderId])).rows[0].n),
      (n) => n === 1,
      20_000,
    );
  } finally {
    await holder?.query('rollback').catch(() => undefined);
    holder?.release();
    stop.abort();
    await Promise.all(running);
    await admin.end();
    await sharedAdmin.end();
    await t.close();
    await dedicated.drop();
  }
});
