import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import type { GlobalPosition } from '../../../../src/platform/events/index.ts';
import { comparePositions } from '../../../../src/platform/projections/index.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { eventually, FLOW_MS, within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, newOrder, openBoardStream, placed, type OrderIds } from './support.ts';

/**
 * What a blocked stream may hold unsent in its socket beyond the socket's buffer (its high-water mark:
 * 16 KiB by default on Node 20, 64 KiB from Node 22): the row whose write filled it (about 18 KB here),
 * with room. The rows read and not written yet wait beside the socket, not in it (see `createViewRoutes`).
 */
const ROW_ROOM = 48 * 1024;
/** Orders of about 18 KB each on the board: about 10 MB in all, more than the kernel's socket buffers hold (4 MB sent, 128 KB received, by default). */
const ORDERS = 600;
const LINES = 100;

/** The ids of the complete `order` events in SSE text (a block cut off by the end of the connection is not an event). */
function orderEvents(text: string): Array<{ id: string; orderId: string }> {
  const blocks = text.split('\n\n');
  blocks.pop(); // after the last blank line: incomplete, or empty
  return blocks
    .filter((block) => block.includes('\nevent: order\n'))
    .map((block) => {
      const lines = block.split('\n');
      const id = lines.find((l) => l.startsWith('id: '))!.slice(4);
      return { id, orderId: (JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as { orderId: string }).orderId };
    });
}

// No projector runs: each test projects its orders in one batch (`drain`), so a stream's push writes them in one pass.
describe('a board stream whose client does not read', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let platform: Platform;
  let port: number;
  const serverSockets: Socket[] = [];

  before(async () => {
    pool = database.pool(10);
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, {
      services: [
        {
          name: 'ordering',
          // The routes twice: with heartbeats too rare to cut a stream during a test, and, under
          // /v1/quick, every 50 ms (a stream blocked from one to the next is cut).
          routes: async (app, options) => {
            await app.register(createViewRoutes({ heartbeatMs: 600_000 }), options);
            await app.register(createViewRoutes({ heartbeatMs: 50 }), { ...options, prefix: '/quick' });
          },
        },
      ],
      logger: false,
    });
    database.defer(() => platform.close());
    platform.app.server.on('connection', (socket: Socket) => serverSockets.push(socket));
    const base = await platform.app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(base).port);
  });

  /**
   * Opens the stream of `rid` with node's client and stops reading once the `start` event came: the
   * response's buffer fills, the client stops reading its socket, and the kernel's buffers fill. Gives
   * the server's side of the connection, and `resume()` to read again.
   */
  const openAndStopReading = async (path: string, rid: string) => {
    const token = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    let text = '';
    let ended = false;
    const request = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => request.once('response', resolve).once('error', reject));
    assert.equal(response.statusCode, 200);
    response.setEncoding('utf8');
    const closed = new Promise<void>((resolve) => {
      response.on('error', () => undefined); // a connection the server cut mid-response
      response.once('close', () => ((ended = true), resolve()));
    });
    await new Promise<void>((resolve) => {
      let started = false;
      response.on('data', (chunk: string) => {
        text += chunk;
        if (started || !text.includes('event: start')) return;
        started = true;
        response.pause();
        resolve();
      });
    });
    const local = request.socket!.localPort;
    const server = serverSockets.find((s) => s.remotePort === local)!;
    assert.ok(server !== undefined, "the server's side of the connection");
    return { server, text: () => text, ended: () => ended, closed, resume: () => response.resume(), close: () => request.destroy() };
  };

  /** `ORDERS` orders of `rid` with `LINES` lines each, projected in one batch; their ids in position order. */
  const placeBigOrders = async (rid: string): Promise<string[]> => {
    const orders: OrderIds[] = Array.from({ length: ORDERS }, () => ({ ...newOrder(rid), lineIds: Array.from({ length: LINES }, () => randomUUID()) }));
    const at = new Map<string, GlobalPosition>();
    for (let i = 0; i < orders.length; i += 20) {
      await Promise.all(orders.slice(i, i + 20).map(async (o) => at.set(o.orderId, await append(pool, o, [placed(o)]))));
    }
    const sorted = [...at].sort((a, b) => comparePositions(a[1], b[1]));
    await drain(pool, ORDER_VIEWS.board, sorted.at(-1)![1], 10_000);
    return sorted.map(([orderId]) => orderId);
  };

  test('the stream stops writing at a full buffer and goes on when the client reads: its socket holds about one buffer and a row meanwhile, and the client gets every change once (before: it buffered every change, about 10 MB here)', async () => {
    const rid = randomUUID();
    const stream = await openAndStopReading(`/v1/restaurants/${rid}/board/stream`, rid);
    const ids = await placeBigOrders(rid);
    // The push has written until the kernel's buffers were full and something waits in the process.
    await eventually('the server to hold unsent bytes', async () => stream.server.writableLength, (n) => n > 0);
    const bound = stream.server.writableHighWaterMark + ROW_ROOM;
    assert.ok(stream.server.writableLength < bound, `the stream holds ${stream.server.writableLength} unsent bytes, more than ${bound}`);
    assert.equal(stream.ended(), false, 'the stream stays open');
    stream.resume();
    await eventually('every order to arrive', async () => orderEvents(stream.text()).length, (n) => n >= ORDERS);
    assert.deepEqual(orderEvents(stream.text()).map((e) => e.orderId), ids, 'every order once, in position order');
    stream.close();
    await stream.closed;
  });

  test("a stream whose client reads nothing from one heartbeat to the next is cut; the reconnect after the last event it read gets the rest, none twice (before: it stayed open, buffering)", async () => {
    const rid = randomUUID();
    const stream = await openAndStopReading(`/v1/quick/restaurants/${rid}/board/stream`, rid);
    const ids = await placeBigOrders(rid);
    await eventually('the server to cut the stream', async () => stream.server.destroyed, (gone) => gone);
    stream.resume();
    await within(stream.closed, FLOW_MS, 'the client to read what reached it, and the end');
    const first = orderEvents(stream.text());
    assert.ok(first.length < ORDERS, `the first connection got ${first.length} of ${ORDERS} orders before it was cut`);
    // The last complete event it read: an order, or the start (which carries the position it began at).
    const lastId = first.at(-1)?.id ?? /\nid: (\d+\.\d+)\nevent: start\n/.exec(stream.text())![1]!;

    const token = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const resumed = await openBoardStream(`http://127.0.0.1:${port}`, rid, token, { 'last-event-id': lastId });
    await resumed.until((t) => orderEvents(t).length >= ORDERS - first.length);
    const second = orderEvents(resumed.text());
    assert.deepEqual([...first, ...second].map((e) => e.orderId), ids, 'every order once, in position order');
    await resumed.close();
  });
});
