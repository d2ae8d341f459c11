import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import type { GlobalPosition } from '../../../../src/platform/events/index.ts';
import { comparePositions, formatPosition, listenToProjections, rebuildProjection } from '../../../../src/platform/projections/index.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { FLOW_MS, within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, newOrder, openBoardStream, placed } from './support.ts';

const { board } = ORDER_VIEWS;

// No projector runs here: `brigade worker` is stopped, and the rebuild's swap alone applies what was appended.
describe('a rebuild while the projector is stopped', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let platform: Platform;
  let base: string;

  before(async () => {
    pool = database.pool(6);
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, { services: [{ name: 'ordering', routes: createViewRoutes({ heartbeatMs: 50 }) }], logger: false });
    database.defer(() => platform.close());
    base = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  });

  test("the swap notifies what its catch-up applied: listeners hear its checkpoint and an open board stream pushes the order (before: nothing was sent, and the live projector then found nothing new)", async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const stream = await openBoardStream(base, rid, staff);
    assert.equal(stream.response.status, 200);
    // One change through a batch first: the stream has pushed what was there and waits for notifications.
    const first = newOrder(rid);
    const p1 = await append(pool, first, [placed(first)]);
    await drain(pool, board, p1);
    await stream.until((t) => t.includes(`id: ${formatPosition(p1)}\nevent: order`));

    const listener = await listenToProjections(pool);
    database.defer(() => listener.close());
    let heard: (at: GlobalPosition) => void = () => undefined;
    const heardPast = new Promise<GlobalPosition>((resolve) => (heard = resolve));
    const o = newOrder(rid);
    const p2 = await append(pool, o, [placed(o)]);
    listener.subscribe(board, (at) => {
      if (comparePositions(at, p2) >= 0) heard(at);
    });

    const rebuilt = await rebuildProjection(pool, board);
    assert.ok(comparePositions(rebuilt.checkpoint, p2) >= 0, 'the swap applied the order');
    const at = await within(heardPast, FLOW_MS, 'a notification at or past the order');
    assert.equal(formatPosition(at), formatPosition(rebuilt.checkpoint), "the notification carries the swap's checkpoint");
    await stream.until((t) => t.includes(`id: ${formatPosition(p2)}\nevent: order`));
    assert.ok(stream.text().includes(o.orderId));
    await stream.close();
  });
});
