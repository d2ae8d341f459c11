import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type pg from 'pg';
import { rebuildProjection } from '../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { FLOW_MS, within } from '../../support/eventually.ts';
import { advisoryLockHolder, clientKeepsAlive, peerLossSettingsOf, PROBED } from '../../support/peerLoss.ts';
import { append, drain, freshFold, newOrder, placed, viewRows } from '../../services/ordering/views/support.ts';

const { board } = ORDER_VIEWS;

/**
 * A rebuild holds its lock, and in the swap the live checkpoint row, on its owner connection: a host
 * that vanishes, or a command frozen mid-swap (Ctrl+Z), must not hold them for hours (a review of
 * decision 0031).
 */
describe('a rebuild’s own session: probed while it holds the rebuild lock; its swap ended by the server when the command stops', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  /** Every client `pool` made, to find the rebuild's owner connection among them. */
  const clients: pg.Client[] = [];
  const tenant = randomUUID();

  before(async () => {
    pool = database.pool(8);
    pool.on('connect', (c) => clients.push(c));
    admin = database.pool(2);
    for (let i = 0; i < 10; i++) {
      const o = newOrder(tenant);
      await append(pool, o, [placed(o)]);
    }
  });

  const shadowGone = async () => assert.equal((await admin.query(`select to_regclass('ordering.board_view_rebuild') as t`)).rows[0].t, null, 'the shadow table is dropped');

  test('the owner connection is probed both ways while it holds the rebuild lock, the swap may not sit idle, and the connection goes back to the pool as it was', async () => {
    let owner: pg.Client | undefined;
    let seen: { settings: unknown; keepsAlive: boolean | null; idle: string } | undefined;
    await rebuildProjection(pool, board, {
      batchSize: 5,
      // The swap's transaction waits for this: the owner connection is idle in it.
      beforeSwap: async () => {
        owner = await advisoryLockHolder(admin, clients, 'brigade.projection-rebuild', 'ordering.board');
        const idle = (await owner.query<{ idle: string }>(`select current_setting('idle_in_transaction_session_timeout') as idle`)).rows[0]!.idle;
        seen = { settings: await peerLossSettingsOf(owner), keepsAlive: await clientKeepsAlive(owner), idle };
      },
    });
    // Before: the operating system's 7200 / 75 / 9, no user timeout, no keepalive on the client, no idle timeout.
    assert.deepEqual(seen?.settings, PROBED, 'the server probes the rebuild after 10 s idle, every 5 s, 3 times');
    assert.notEqual(seen.keepsAlive, false, 'the rebuild probes the server');
    assert.equal(seen.idle, '5s', 'the swap may sit idle in its transaction for 5 s');
    const plain = await admin.connect();
    try {
      assert.deepEqual(await peerLossSettingsOf(owner!), await peerLossSettingsOf(plain), 'given back, the connection is a pooled one like the others');
      assert.equal(await clientKeepsAlive(owner!), await clientKeepsAlive(plain));
      const idleOf = async (c: pg.ClientBase) => (await c.query(`select current_setting('idle_in_transaction_session_timeout') as idle`)).rows[0].idle;
      assert.equal(await idleOf(owner!), await idleOf(plain), "the server's idle timeout, not the swap's");
    } finally {
      plain.release();
    }
  });

  test('a rebuild frozen mid-swap holds the checkpoint row for seconds, not for ever: the server ends its session, live batches go on, nothing is left behind', async () => {
    const o = newOrder(tenant);
    const head = await append(pool, o, [placed(o)]);
    let resume!: () => void;
    const frozen = new Promise<void>((resolve) => (resume = resolve));
    let swapping!: () => void;
    const inSwap = new Promise<void>((resolve) => (swapping = resolve));
    // The swap holds the live checkpoint row (and the shadow it made) while the hook waits: a command stopped there.
    const rebuilt = rebuildProjection(pool, board, {
      beforeSwap: async () => {
        swapping();
        await frozen;
      },
    });
    rebuilt.catch(() => undefined);
    try {
      await within(inSwap, FLOW_MS, 'the rebuild to reach its swap');
      const started = performance.now();
      // A live batch locks the checkpoint row first. Before: it waited as long as the frozen command.
      await within(drain(pool, board, head), 30_000, 'a live batch of the board while the rebuild is frozen in its swap');
      assert.ok(performance.now() - started >= 4000, 'the row was free only once the swap had sat idle for its 5 s');
    } finally {
      resume();
    }
    await assert.rejects(rebuilt, (e: unknown) => {
      assert.match(String(e), /terminating connection due to idle-in-transaction timeout/);
      assert.equal((e as { code?: string }).code, '25P03');
      return true;
    });
    await shadowGone();
    // The rebuild lock went with the session: the next rebuild runs, and swaps in the whole view.
    await rebuildProjection(pool, board);
    assert.deepEqual(await viewRows(admin, 'board_view'), await freshFold(admin, pool, board));
  });
});
