import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { run } from '../../../src/cli/commands/projections.ts';
import { UsageError } from '../../../src/cli/usage.ts';
import { projectionStatus } from '../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { holdOpen } from '../events/support.ts';
import { useTestDatabase } from '../../support/db.ts';
import { append, drain, event, newOrder, placed, viewRows } from '../../services/ordering/views/support.ts';
import { eventually } from '../../support/eventually.ts';

describe('brigade projections status|rebuild', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let holder: pg.Pool;
  const lines: string[] = [];
  const ctx = () => ({ env: { DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40) }, io: { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(`ERR ${l}`) } });

  before(() => {
    pool = database.pool(2);
    holder = database.pool(1);
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

  test('status counts the events an open transaction holds back, and names the backend whose transaction holds them', async () => {
    const board = ORDER_VIEWS.all.find((p) => p.name === 'board')!;
    const [before] = await projectionStatus(pool, [board]);
    // A writer's transaction left open: every event committed after it is above the horizon (decision 0011).
    const held = await holdOpen(holder, { service: 'ordering', tenantId: randomUUID(), actor: { kind: 'staff', id: randomUUID() } }, async (tx) => {
      await tx.query('select pg_current_xact_id()');
    });
    try {
      for (let i = 0; i < 50; i++) {
        const o = newOrder(randomUUID());
        await append(pool, o, [placed(o)]);
      }
      const [state] = await projectionStatus(pool, [board]);
      assert.equal(state!.lagEvents, before!.lagEvents + 50, 'the 50 committed events count, though no batch can read them yet');
      assert.ok(state!.heldEvents >= 50, `held ${state!.heldEvents}`);
      assert.ok(state!.lagSeconds > 0, 'the oldest of them has an age');
      assert.notEqual(state!.heldBy, null, 'the transaction that holds them is named');
      const heldBy = state!.heldBy!;
      assert.ok('pid' in heldBy, 'no prepared transactions on this server');
      if (heldBy.pid !== held.pid) {
        // Another test file's older transaction may hold the cluster's horizon too; never one of this database.
        const other = await pool.query<{ datname: string | null }>('select datname from pg_stat_activity where pid = $1', [heldBy.pid]);
        assert.notEqual(other.rows[0]?.datname, database.db.name, `backend ${heldBy.pid} is not the held one (${held.pid})`);
      }

      lines.length = 0;
      assert.equal(await run(['status'], ctx()), 0);
      const at = lines.findIndex((l) => l.startsWith('board'));
      assert.match(lines[at]!, new RegExp(`^board\\s+\\d+\\.\\d+\\s+${before!.lagEvents + 50}\\s+\\d+\\.\\d`));
      assert.match(lines[at + 1]!, /^ {2}held back: \d+ of those events wait for the transaction of backend pid \d+(?: of database \S+ \(another database of this server\))? \(open \d+ s, /);
    } finally {
      await held.rollback();
    }
  });

  test('rebuild behind an open transaction says which backend it waits for, how to end it and when it gives up; its events/s leaves the wait out', async () => {
    for (let i = 0; i < 3; i++) {
      const o = newOrder(randomUUID());
      await append(pool, o, [placed(o), event(o, 'OrderAccepted', { etaMinutes: 5 })]);
    }
    const held = await holdOpen(holder, { service: 'ordering', tenantId: randomUUID(), actor: { kind: 'staff', id: randomUUID() } }, async (tx) => {
      await tx.query('select pg_current_xact_id()');
    });
    lines.length = 0;
    let rebuilding: Promise<number> | undefined;
    try {
      rebuilding = run(['rebuild', 'board'], ctx());
      const waitLine = /^ {2}waiting (\d+) s for the transaction of backend pid (\d+)(?: of database \S+ \(another database of this server\))? \(open \d+ s, [a-z ]+: ".*"\) to end; end it with SELECT pg_terminate_backend\((\d+)\)(?: \(it is database \S+'s: ask whoever runs it first\))?, or wait \(gives up after 300 s\)$/;
      const found = await eventually('the line that says what the rebuild waits for', async () => lines.find((l) => waitLine.test(l)), (l) => l !== undefined, 30_000);
      const [, , pid, terminate] = waitLine.exec(found!)!;
      assert.equal(pid, terminate, 'the command to run names the backend waited for');
      if (Number(pid) !== held.pid) {
        // Another test file's older transaction may hold the cluster's horizon too; never one of this database.
        const other = await pool.query<{ datname: string | null }>('select datname from pg_stat_activity where pid = $1', [Number(pid)]);
        assert.notEqual(other.rows[0]?.datname, database.db.name, `backend ${pid} is not the held one (${held.pid})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      await held.rollback();
      // Ended before the next test starts one of its own, whatever failed above.
      await rebuilding?.catch(() => undefined);
    }
    assert.equal(await rebuilding, 0);
    const last = lines.at(-1)!;
    const summary = /^rebuilt board: (\d+) events → \d+ rows in ([\d.]+) s \(([\d.]+) s of it waiting for transactions open since before it; ([\d,]+) events\/s over the rest\), swapped in at /.exec(last);
    assert.ok(summary !== null, last);
    const [, events, seconds, waited, rate] = summary;
    assert.ok(Number(waited) >= 1.4, `the wait is counted (${waited} s)`);
    assert.ok(Number(rate!.replaceAll(',', '')) > Number(events) / Number(seconds), `events/s (${rate}) is over the replay, not the ${seconds} s with the wait`);
  });

  test('a rebuild adds the events it applied past the live checkpoint to the applied count', async () => {
    const board = ORDER_VIEWS.all.find((p) => p.name === 'board')!;
    const unrelated = async () => {
      const o = newOrder(randomUUID());
      return append(pool, o, [{ type: 'NotAnOrderEvent', data: {} }]);
    };
    const orders = async (n: number) => {
      let last;
      for (let i = 0; i < n; i++) {
        const o = newOrder(randomUUID());
        last = await append(pool, o, [placed(o), event(o, 'OrderAccepted', { etaMinutes: 5 })]);
      }
      return last!;
    };
    // The live projector at the head: what the tests before left unapplied is applied and counted.
    await drain(pool, board, await unrelated());
    const [start] = await projectionStatus(pool, [board]);
    assert.equal(start!.lagEvents, 0);
    // 2 events the live projector applies, then 6 (and 2 it does not handle) only the rebuild does.
    await drain(pool, board, await orders(1));
    await unrelated();
    await orders(3);
    await unrelated();
    const [live] = await projectionStatus(pool, [board]);
    assert.equal(live!.eventsApplied, start!.eventsApplied + 2);
    lines.length = 0;
    assert.equal(await run(['rebuild', 'board'], ctx()), 0);
    const [after] = await projectionStatus(pool, [board]);
    assert.equal(after!.lagEvents, 0);
    assert.equal(after!.eventsApplied, start!.eventsApplied + 8, 'the 6 events the rebuild applied past the live checkpoint are counted, not the 2 it does not handle');
  });

  test('status measures the lag in seconds on the database’s clock: a host clock 5 minutes off changes nothing', async () => {
    const board = ORDER_VIEWS.all.find((p) => p.name === 'board')!;
    const o = newOrder(randomUUID());
    await append(pool, o, [placed(o)]);
    const real = Date.now;
    const seen: number[] = [];
    try {
      for (const offset of [300_000, -300_000]) {
        Date.now = () => real() + offset;
        const [state] = await projectionStatus(pool, [board]);
        seen.push(state!.lagSeconds);
      }
    } finally {
      Date.now = real;
    }
    for (const seconds of seen) assert.ok(seconds > 0 && seconds < 60, `lag ${seconds} s: the event was appended a moment ago`);
  });

  test('bad input is a usage error', async () => {
    await assert.rejects(run(['rebuild', 'nope'], ctx()), (e: unknown) => e instanceof UsageError && /Unknown projection "nope"/.test(e.message));
    await assert.rejects(run(['rebuild'], ctx()), UsageError);
    await assert.rejects(run(['frobnicate'], ctx()), UsageError);
    await assert.rejects(run(['rebuild', 'board', '--batch', '0'], ctx()), UsageError);
  });
});
