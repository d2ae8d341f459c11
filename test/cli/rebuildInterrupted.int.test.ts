import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { spawnCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { eventually, within } from '../support/eventually.ts';
import { append, event, newOrder, placed, viewRows } from '../services/ordering/views/support.ts';

const database = useTestDatabase();

// Before: Ctrl+C during a rebuild on a DATABASE_URL exited 130 without a word and left its copy of the
// view (ordering.board_view_rebuild, without RLS) behind until the next rebuild.
test('Ctrl+C during brigade projections rebuild: it says it stops, drops its copy, leaves the live view as it was, exit 130', async () => {
  const pool = database.pool(4);
  // 1,000 events: at one a page, a replay of seconds, still under way when the signal comes.
  for (let i = 0; i < 500; i++) {
    const o = newOrder(randomUUID());
    await append(pool, o, [placed(o), event(o, 'OrderAccepted', { etaMinutes: 10 })]);
  }
  const before = await viewRows(pool, 'board_view');
  // Pages of one event: the replay is under way, page after page, when the signal comes.
  const cli = spawnCli(['projections', 'rebuild', 'board', '--batch', '1'], { DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  try {
    await within(eventually('the replay under way', async () => cli.output(), (text) => /replaying/.test(text), 60_000), 65_000, 'the replay to start');
    cli.child.kill('SIGINT');
    const { code, stdout, stderr } = await within(cli.exited, 60_000, 'brigade projections rebuild to exit');
    assert.equal(code, 130, stdout + stderr);
    assert.match(stderr, /brigade projections: SIGINT: stopping the rebuild; the live view stays as it is/);
    assert.match(stderr, /brigade projections: interrupted by SIGINT before it finished; nothing to fix: run it again/);
    assert.doesNotMatch(stdout, /^rebuilt /m, 'nothing was swapped in');
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  } finally {
    if (!cli.gone()) cli.child.kill('SIGKILL');
  }
  assert.equal((await pool.query(`select to_regclass('ordering.board_view_rebuild') as t`)).rows[0].t, null, 'the copy is dropped');
  assert.deepEqual(await viewRows(pool, 'board_view'), before, 'the live view is as it was');
});
