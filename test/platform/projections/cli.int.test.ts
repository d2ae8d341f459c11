import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { run } from '../../../src/cli/commands/projections.ts';
import { UsageError } from '../../../src/cli/usage.ts';
import { useTestDatabase } from '../../support/db.ts';
import { append, event, newOrder, placed, viewRows } from '../../services/ordering/views/support.ts';

describe('brigade projections status|rebuild', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const lines: string[] = [];
  const ctx = () => ({ env: { DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40) }, io: { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(`ERR ${l}`) } });

  before(() => {
    pool = database.pool(2);
  });

  test('rebuild prints a progress bar with events/s and swaps the view in; status shows position, lag and leader', async () => {
    const o = newOrder(randomUUID());
    await append(pool, o, [placed(o), event(o, 'OrderAccepted', { etaMinutes: 5 })]);
    lines.length = 0;
    assert.equal(await run(['status'], ctx()), 0);
    assert.match(lines[0]!, /projection\s+position\s+lag events/);
    assert.match(lines.find((l) => l.startsWith('board'))!, /^board\s+0\.0\s+\d+\s+.*none \(no projector running\)$/);

    lines.length = 0;
    assert.equal(await run(['rebuild', 'board', '--batch', '1'], ctx()), 0);
    assert.ok(lines.some((l) => /^\[#{30}\] 100% {2}2\/2 events {2}[\d,]+ events\/s {2}1 row written {2}(swapping|done)$/.test(l)), lines.join('\n'));
    assert.match(lines.at(-1)!, /^rebuilt board: 2 events → 1 rows in/);
    const [row] = await viewRows(pool, 'board_view');
    assert.equal(row!.status, 'accepted');

    lines.length = 0;
    assert.equal(await run(['status'], ctx()), 0);
    assert.match(lines.find((l) => l.startsWith('board'))!, /^board\s+\d+\.\d+\s+0\s+0\.0/);
  });

  test('bad input is a usage error', async () => {
    await assert.rejects(run(['rebuild', 'nope'], ctx()), (e: unknown) => e instanceof UsageError && /Unknown projection "nope"/.test(e.message));
    await assert.rejects(run(['rebuild'], ctx()), UsageError);
    await assert.rejects(run(['frobnicate'], ctx()), UsageError);
    await assert.rejects(run(['rebuild', 'board', '--batch', '0'], ctx()), UsageError);
  });
});
