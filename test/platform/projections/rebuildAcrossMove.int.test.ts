import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import type { GlobalPosition } from '../../../src/platform/events/index.ts';
import { rebuildProjection } from '../../../src/platform/projections/index.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { startTestPlatform } from '../../support/platform.ts';
import { append, drain, newOrder, placed } from '../../services/ordering/views/support.ts';

const { board } = ORDER_VIEWS;

test('a rebuild that replayed while a tenant moved away swaps nothing in (its shadow holds the moved rows) and says to run it again', async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  const admin = new pg.Pool({ connectionString: t.db.url, max: 2 });
  try {
    const token = await t.token('admin', { subject: 'ops' });
    const make = async (name: string) => (await t.request({ method: 'POST', url: '/v1/restaurants', token, payload: { name, city: 'Lisbon' } })).json().id as string;
    const moving = await make('Moving');
    const staying = await make('Staying');
    const pool = t.platform.deps.databases.poolFor('ordering');
    let head: GlobalPosition = { transactionId: 0n, position: 0n };
    for (let i = 0; i < 6; i++) {
      const o = newOrder(i % 2 === 0 ? moving : staying);
      head = await append(pool, o, [placed(o)]);
    }
    await drain(pool, board, head);
    const rowsOf = async (tenant: string) => Number((await admin.query('select count(*) as n from ordering.board_view where tenant_id = $1', [tenant])).rows[0].n);
    assert.deepEqual([await rowsOf(moving), await rowsOf(staying)], [3, 3]);

    let moved = false;
    await assert.rejects(
      rebuildProjection(pool, board, {
        batchSize: 2,
        afterBatch: async () => {
          if (moved) return;
          moved = true;
          await moveTenant({ tenantId: moving, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
        },
      }),
      (error: { code?: string }) => error.code === 'PROJECTION_REBUILD_TENANT_MOVED',
    );
    assert.ok(moved, 'the move ran during the replay');
    assert.deepEqual([await rowsOf(moving), await rowsOf(staying)], [0, 3], 'the live view keeps no row of the moved restaurant');
    const shadows = await admin.query(`select count(*)::int as n from pg_tables where schemaname = 'ordering' and tablename like 'board_view_%'`);
    assert.equal(shadows.rows[0].n, 0, 'the shadow table is gone');

    // Run again, the rebuild swaps in a view without the moved restaurant.
    await rebuildProjection(pool, board);
    assert.deepEqual([await rowsOf(moving), await rowsOf(staying)], [0, 3]);
  } finally {
    await admin.end();
    await t.close();
    await target.drop();
  }
});
