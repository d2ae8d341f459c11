import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createEventStore, type GlobalPosition } from '../../../src/platform/events/index.ts';
import { comparePositions, projectionStatus, runProjection } from '../../../src/platform/projections/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';
import { scriptRun } from '../../support/scriptRun.ts';
import { COUNTS_DDL, countingProjection } from './fixtures/countingProjection.ts';

/** Bound on each forced step (a safety net, not a timing claim). */
const DEADLINE_MS = 30_000;

const fixture = path.join(import.meta.dirname, 'fixtures', 'crashingProjector.ts');

describe('projector crash: killed mid-batch, a second instance takes over without loss or double-apply', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  let child: ChildProcess | undefined;
  const store = createEventStore({ schema: 'ordering' });

  before(async () => {
    pool = database.pool(6);
    admin = database.pool(2);
    // The child holds connections to the database: it goes before the database does.
    database.defer(() => child?.kill('SIGKILL'));
    await admin.query(COUNTS_DDL);
  });

  test('SIGKILL inside a later batch transaction: the committed batches stay, the waiter resumes right after their checkpoint and applies every event once', async () => {
    // 10 streams × 20 events in 3 tenants: 200 events. The child commits two batches of 50, then is
    // killed 20 rows into its third.
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const expected = new Map<string, number>();
    const positions: GlobalPosition[] = [];
    for (let s = 0; s < 10; s++) {
      const tenantId = tenants[s % 3]!;
      const streamId = `counter-${randomUUID()}`;
      for (let i = 0; i < 4; i++) {
        const r = await unitOfWork(pool, { service: 'ordering', tenantId, actor: { kind: 'system', id: 'test' } }, (tx) =>
          store.append(tx, streamId, Array.from({ length: 5 }, (_, k) => ({ type: 'Counted', data: { k } })), 'any'),
        );
        positions.push(...r.events.map((e) => e.globalPosition));
      }
      expected.set(`${tenantId}/${streamId}`, 20);
    }
    // Appended one transaction at a time, so append order is the global order.
    positions.sort(comparePositions);
    assert.equal(positions.length, 200);
    const last = positions.at(-1)!;
    const total = async () => Number((await admin.query('select coalesce(sum(n), 0) as n from ordering.crash_counts')).rows[0].n);

    const { execArgv, file } = scriptRun(fixture);
    child = spawn(process.execPath, [...execArgv, file, database.db.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const blocked = new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('BLOCKED')) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`child exited (${code}) before blocking: ${out} ${err}`)));
    });
    await within(blocked, DEADLINE_MS, 'the child to block mid-batch');
    assert.match(out, /LEADER\nBLOCKED/);

    // The child holds the leader lock; two batches are committed, the third is open with 20 rows in it.
    const [held] = await projectionStatus(pool, [countingProjection()]);
    assert.notEqual(held!.leaderPid, null, 'the child leads');
    const committed = held!.checkpoint;
    assert.equal(comparePositions(committed, positions[99]!), 0, 'the checkpoint is the end of the second batch');
    assert.equal(held!.eventsApplied, 100);
    assert.equal(await total(), 100, 'the committed batches are visible, nothing of the open one');

    // A second instance waits for the lock while the child lives.
    const leadership: boolean[] = [];
    const batches: GlobalPosition[][] = [];
    let busy = 0;
    const projection = countingProjection({ guard: false, onBatch: (events) => batches.push(events.map((e) => e.globalPosition)) });
    const second = runProjection(pool, projection, { batchSize: 50, idleMs: 10, lockRetryMs: 20, onLeadership: (l) => leadership.push(l), onLockBusy: () => busy++ });
    const stop = new AbortController();
    const running = second.run(stop.signal);
    await within(poll(async () => busy >= 3), DEADLINE_MS, 'the second instance to find the lock taken');
    assert.equal(second.leader, false, 'the lock is the child’s');
    assert.deepEqual(leadership, []);
    assert.deepEqual(batches, []);

    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // The killed session's lock frees; the second instance takes over from the stored checkpoint.
    await within(poll(async () => second.leader), DEADLINE_MS, 'the takeover');
    const caughtUp = poll(async () => {
      const [s] = await projectionStatus(pool, [countingProjection()]);
      return comparePositions(s!.checkpoint, last) >= 0;
    });
    await within(caughtUp, DEADLINE_MS, 'the second instance to reach the head');
    stop.abort();
    await running;
    assert.deepEqual(leadership, [true, false]);

    assert.ok(batches.length > 0, 'the second instance applied batches');
    assert.equal(comparePositions(batches[0]![0]!, positions[100]!), 0, 'its first batch starts right after the child’s committed checkpoint');
    assert.deepEqual(batches.flat(), positions.slice(100), 'it applied exactly the events after the checkpoint, in order, once each');

    // The counting projection has no position guard here: a replayed event would raise a count.
    assert.equal(await total(), 200, 'exactly one apply per event in all');
    const counts = (await admin.query<{ key: string; n: number }>(`select tenant_id || '/' || stream_id as key, n from ordering.crash_counts`)).rows;
    assert.deepEqual(new Map(counts.map((r) => [r.key, r.n])), expected, 'every event counted exactly once');
    const [done] = await projectionStatus(pool, [countingProjection()]);
    assert.equal(done!.eventsApplied, 200);
  });

  test('a leader whose checkpoint step fails reports it, gives the lock up and tries again: run() never rejects', async () => {
    const projection = { ...countingProjection(), name: `refused_${randomUUID().slice(0, 8)}` };
    // The service role may not create the projection's checkpoint row until the grant comes back.
    await admin.query('revoke insert on ordering.projection_checkpoints from brigade_ordering');
    const errors: unknown[] = [];
    const leadership: boolean[] = [];
    const runner = runProjection(pool, projection, { batchSize: 50, idleMs: 10, lockRetryMs: 20, onError: (e) => errors.push(e), onLeadership: (l) => leadership.push(l) });
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    let settled = false;
    void running.finally(() => (settled = true));
    try {
      await within(poll(async () => errors.length >= 2), DEADLINE_MS, 'two failed checkpoint steps');
      assert.equal((errors[0] as { code?: string }).code, '42501', 'the refusal is what was reported');
      assert.equal(settled, false, 'run() goes on after the failures');
      assert.deepEqual(leadership.slice(0, 3), [true, false, true], 'a failure gives the lock up, and it is taken again');
      await admin.query('grant insert on ordering.projection_checkpoints to brigade_ordering');
      await within(poll(async () => (await projectionStatus(pool, [projection]))[0]?.eventsApplied === 200), DEADLINE_MS, 'the projection to catch up once allowed');
    } finally {
      await admin.query('grant insert on ordering.projection_checkpoints to brigade_ordering');
      stop.abort();
      await running;
    }
  });
});

async function poll(fn: () => Promise<boolean>): Promise<void> {
  while (!(await fn())) await new Promise((resolve) => setTimeout(resolve, 10));
}
