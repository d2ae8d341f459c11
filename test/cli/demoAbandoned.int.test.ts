import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDinnerRush } from '../../src/cli/demo/dinnerRush.ts';
import { startTestPlatform } from '../support/platform.ts';
import { eventually, within } from '../support/eventually.ts';

// Found by a review of the CLI: after Ctrl+C the demo's progress bar kept advancing ("[###…] 7/40
// orders") as the orders in flight failed with the platform closing under them.
test('once the rush is stopped, the orders in flight end without a word and the progress stands still', async () => {
  const t = await startTestPlatform();
  let closed = false;
  try {
    const address = await t.platform.app.listen({ host: '127.0.0.1', port: 0 });
    const stop = new AbortController();
    const progress: Array<{ readonly done: number; readonly afterStop: boolean }> = [];
    const lines: string[] = [];
    // No worker runs here: every order placed waits for its payment, in flight until the platform closes.
    const rush = runDinnerRush(
      address,
      t.platform.deps.tokens,
      { restaurants: 1, couriers: 1, orders: 6, rate: 50, cancelShare: 0, declineShare: 0 },
      { onSetup: (line) => lines.push(line), onProgress: (done) => progress.push({ done, afterStop: stop.signal.aborted }), signal: stop.signal },
    );
    // It ends once its orders have: here with an error, its last reads meeting the closed platform.
    const ended = rush.then(
      () => undefined,
      () => undefined,
    );
    const pool = t.platform.deps.databases.poolFor('platform');
    await eventually('every order placed', async () => (await pool.query<{ n: number }>('select count(*)::int as n from ordering.order_index')).rows[0]?.n ?? 0, (n) => n === 6);
    // As brigade demo on Ctrl+C: the rush is stopped, then the platform under it closes.
    stop.abort('SIGINT');
    await t.platform.close();
    closed = true;
    await within(ended, 60_000, 'the rush to end');
    // Before: six calls after the stop (1/6 … 6/6), each order counted as failed.
    assert.deepEqual(progress.filter((p) => p.afterStop), [], JSON.stringify(progress));
    assert.deepEqual(lines.filter((line) => /^order \d+ failed/.test(line)), []);
  } finally {
    if (!closed) await t.platform.close();
    await t.db.drop();
  }
});

// Found by a review of the demo: with the pipeline held up (no relay, so no saga) it said "is the
// payment provider up?", though the provider had been asked nothing.
test("a payment that has not started after the wait is put down to the order's event not reaching payments, not to the provider", async () => {
  const t = await startTestPlatform();
  let closed = false;
  try {
    const address = await t.platform.app.listen({ host: '127.0.0.1', port: 0 });
    const stop = new AbortController();
    const lines: string[] = [];
    // No worker runs here: the order's event never leaves the outbox, so its payment never starts.
    const rush = runDinnerRush(
      address,
      t.platform.deps.tokens,
      { restaurants: 1, couriers: 1, orders: 1, rate: 50, cancelShare: 0, declineShare: 0 },
      { onSetup: (line) => lines.push(line), signal: stop.signal },
    ).then(
      () => undefined,
      () => undefined,
    );
    const hint = await eventually('the slow-payment line', async () => lines.find((line) => /has waited/.test(line)), (line) => line !== undefined, 30_000);
    assert.match(hint as string, /its payment has not started: the order's event has not reached the payments service; is the outbox relay or the bus held up\?/);
    assert.doesNotMatch(hint as string, /payment provider/);
    stop.abort('SIGINT');
    await t.platform.close();
    closed = true;
    await within(rush, 60_000, 'the rush to end');
  } finally {
    if (!closed) await t.platform.close();
    await t.db.drop();
  }
});
