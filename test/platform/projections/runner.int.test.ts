import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { commitStatements, type Tx } from '../../../src/platform/db/index.ts';
import { createEventStore, type FoldEvent } from '../../../src/platform/events/index.ts';
import { listenToProjections, runProjection, waitForPosition, type Projection, type ViewRow } from '../../../src/platform/projections/index.ts';
import { takeTurns, type Turns } from '../../../src/platform/runtime/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { holdOpen } from '../events/support.ts';
import { eventually, FLOW_MS, within } from '../../support/eventually.ts';
import { advisoryLockHolder, clientKeepsAlive, peerLossSettingsOf, PROBED } from '../../support/peerLoss.ts';

describe('a projection runner', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });

  before(() => {
    // The test cluster runs with synchronous_commit off; these sessions start with it on, as in production.
    pool = database.pool({ max: 4, options: '-c synchronous_commit=on' });
  });

  /** Appends one event of type T to a new stream of a new tenant; resolves with its position. */
  const appendOne = async (occurredAt?: Date) =>
    (await store.appendAndCommit((context, statements) => commitStatements(pool, context, statements), { service: 'ordering', tenantId: randomUUID() }, `s-${randomUUID()}`, [{ type: 'T', data: {}, ...(occurredAt === undefined ? {} : { occurredAt }) }], 0)).events[0]!.globalPosition;
  /** A projection of fold events over the whole log that writes no view: `apply` sees each batch. */
  const projectionOf = (prefix: string, apply: (tx: Tx, events: readonly FoldEvent[]) => Promise<readonly ViewRow[]> = async () => []): Projection => ({
    name: `${prefix}-${randomUUID()}`, service: 'ordering', schema: 'ordering', table: 'unused', store, reads: 'fold', apply,
  });

  test('reports a batch in metrics: events applied, the checkpoint position, and the lag counted from when the last event was recorded, on the database’s clock', async () => {
    // Back-dated (an import): its occurredAt says nothing about how long it has waited for the projector.
    const position = await appendOne(new Date(Date.now() - 60_000));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const applied: FoldEvent[] = [];
    const projection = projectionOf('metrics', async (_tx, batch) => (applied.push(...batch), []));
    const registry = new client.Registry();
    const stop = new AbortController();
    // This host's clock 5 minutes ahead of the database server's: the lag is the database's to say.
    const real = Date.now;
    Date.now = () => real() + 300_000;
    try {
      const running = runProjection(pool, projection, { registry, idleMs: 10, onBatch: () => stop.abort() }).run(stop.signal);
      await within(running, 30_000, 'the runner applies the event and stops');
    } finally {
      Date.now = real;
    }
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.projection === `ordering.${projection.name}`)?.value;
    assert.equal(applied.length, 1);
    assert.equal(await value('brigade_projection_events_total'), 1);
    assert.equal(await value('brigade_projection_position'), Number(position.position));
    const lag = (await value('brigade_projection_lag_seconds'))!;
    assert.ok(lag >= 0.9 && lag < 30, `lag ${lag} s: the event was recorded a second before it was applied`);
  });

  test('a batch that keeps failing is counted, shows the lag of the event it cannot apply, and is retried less and less often', async () => {
    await appendOne();
    let poisoned = false;
    const projection = projectionOf('failing', async () => {
      if (poisoned) throw new Error('poison');
      return [];
    });
    const registry = new client.Registry();
    const value = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.projection === `ordering.${projection.name}`)?.value;
    const failedAt: number[] = [];
    let batches = 0;
    const stop = new AbortController();
    const running = runProjection(pool, projection, { registry, idleMs: 10, onBatch: () => batches++, onError: () => failedAt.push(performance.now()) }).run(stop.signal);
    try {
      await eventually('a first batch', async () => batches, (n) => n > 0);
      await eventually('the runner at the head', async () => value('brigade_projection_lag_seconds'), (lag) => lag === 0);
      poisoned = true;
      await appendOne();
      await eventually('four failed batches', async () => failedAt.length, (n) => n >= 4);
      assert.ok((await value('brigade_projection_batch_failures_total'))! >= 4, 'the failures are counted');
      // Retried after 50, 100, then 200 ms: the event has waited at least 350 ms by the fourth failure.
      // The runner sets the lag after it reports the failure (onError), so the fourth failure's lag
      // shows up a moment after the failure does.
      await eventually('the unapplied event\'s age as the lag, not 0', async () => value('brigade_projection_lag_seconds'), (lag) => lag !== undefined && lag >= 0.3);
      const gaps = failedAt.slice(1, 4).map((t, i) => t - failedAt[i]!);
      assert.ok(gaps[2]! >= 190, `the waits between failures grow (gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms)`);
      poisoned = false;
      const before = batches;
      await eventually('a batch after the failures', async () => batches, (n) => n > before);
    } finally {
      stop.abort();
      await running;
    }
  });

  /**
   * Runs a projector named `name` until it is at the head, then holds a writer's transaction open (an
   * event committed after it is above the horizon, decision 0011, so batches read nothing) and runs
   * `body` with a reader of the projector's lag gauge; ends both after it.
   */
  async function withWriterHeldOpen(name: string, body: (lag: () => Promise<number | undefined>) => Promise<void>): Promise<void> {
    await appendOne();
    const projection = projectionOf(name);
    const registry = new client.Registry();
    const lag = async () => (await registry.getSingleMetric('brigade_projection_lag_seconds')?.get())?.values.find((v) => v.labels.projection === `ordering.${projection.name}`)?.value;
    const stop = new AbortController();
    const running = runProjection(pool, projection, { registry, idleMs: 10 }).run(stop.signal);
    try {
      await eventually('the runner at the head', lag, (seconds) => seconds === 0);
      const held = await holdOpen(pool, { service: 'ordering', tenantId: randomUUID(), actor: { kind: 'staff', id: randomUUID() } }, async (tx) => {
        await tx.query('select pg_current_xact_id()');
      });
      try {
        await body(lag);
      } finally {
        await held.rollback();
      }
    } finally {
      stop.abort();
      await running;
    }
  }

  test('an event that an open transaction holds back counts as lag, not 0', async () => {
    await withWriterHeldOpen('held', async (lag) => {
      await appendOne();
      await eventually('the held event to show as lag', lag, (seconds) => seconds !== undefined && seconds >= 0.3, 20_000);
    });
  });

  test('the lag of an event an open transaction holds back is measured on the database’s clock, not this host’s', async () => {
    await withWriterHeldOpen('held-clock', async (lag) => {
      // This host's clock 5 minutes ahead of the database server's.
      const real = Date.now;
      Date.now = () => real() + 300_000;
      try {
        await appendOne();
        const seconds = await eventually('the held event to show as lag', lag, (s) => s !== undefined && s >= 0.3, 20_000);
        assert.ok(seconds! < 30, `lag ${seconds} s: the event was appended a moment ago`);
      } finally {
        Date.now = real;
      }
    });
  });

  test('commits a batch without waiting for the WAL flush, and only that batch', async () => {
    await appendOne();
    const seen: string[] = [];
    const projection = projectionOf('commit', async (tx) => {
      const { rows } = await tx.query<{ value: string }>(`select current_setting('synchronous_commit') as value`);
      seen.push(rows[0]!.value);
      return [];
    });
    const stop = new AbortController();
    await within(runProjection(pool, projection, { idleMs: 10, onBatch: () => stop.abort() }).run(stop.signal), 30_000, 'the runner applies a batch and stops');
    assert.deepEqual(seen, ['off']);
    const { rows } = await pool.query(`select current_setting('synchronous_commit') as value`);
    assert.equal(rows[0].value, 'on', 'the setting ends with the batch (the pool hands out the connection the batch just released)');
  });

  /**
   * Runs two projections, each until it has applied a batch, whose apply waits (up to 1 s when they
   * take turns) for the other's to be running too; returns how many applies ran at once at most.
   */
  const mostAtOnce = async (turns: Turns | undefined) => {
    await appendOne();
    let active = 0;
    let most = 0;
    let bothIn!: () => void;
    const together = new Promise<void>((resolve) => (bothIn = resolve));
    const apply = async () => {
      most = Math.max(most, ++active);
      if (active === 2) bothIn();
      // Without turns both must get in, however long the other takes to start; with turns the first gives up waiting after 1 s.
      await (turns === undefined ? together : Promise.race([together, new Promise((resolve) => setTimeout(resolve, 1000))]));
      active--;
      return [];
    };
    const runs = ['a', 'b'].map((name) => {
      const stop = new AbortController();
      return runProjection(pool, projectionOf(`turns-${name}`, apply), { idleMs: 10, onBatch: () => stop.abort(), ...(turns === undefined ? {} : { turns }) }).run(stop.signal);
    });
    await within(Promise.all(runs), FLOW_MS, 'both runners apply a batch and stop');
    return most;
  };

  test('runners that share turns never apply batches at the same time; without them they do', async () => {
    assert.equal(await mostAtOnce(undefined), 2, 'on their own, the two batches run together');
    assert.equal(await mostAtOnce(takeTurns()), 1, 'taking turns, one waits for the other');
  });

  test('a reader waiting for a position wakes the leader from its idle wait', async () => {
    const projection = projectionOf('wake');
    let batches = 0;
    const stop = new AbortController();
    // An idle step far longer than the waits below: only a wake-up can end it in time.
    const running = runProjection(pool, projection, { idleMs: 10 * FLOW_MS, onBatch: () => batches++ }).run(stop.signal);
    const listener = await listenToProjections(pool);
    let stopped = false;
    try {
      // The first wait may be met by the runner's first batch; the second finds it idle.
      assert.equal((await waitForPosition(pool, projection, await appendOne(), { timeoutMs: FLOW_MS, listener })).caughtUp, true);
      const before = batches;
      const second = await waitForPosition(pool, projection, await appendOne(), { timeoutMs: FLOW_MS, listener });
      assert.equal(second.caughtUp, true, 'the leader ran a batch for the waiting reader');
      // onBatch runs after the batch's commit, which the reader may hear of first (its NOTIFY comes on another connection).
      await eventually('the runner to count the batch', async () => batches, (n) => n > before);
      stop.abort();
      await within(running, 30_000, 'the runner stops');
      stopped = true;
      // It gave its lock connection back without the LISTEN: no pooled session listens any more.
      const sessions = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      try {
        for (const session of sessions) assert.deepEqual((await session.query('select pg_listening_channels() as channel')).rows, []);
      } finally {
        for (const session of sessions) session.release();
      }
    } finally {
      stop.abort();
      if (!stopped) await running.catch(() => undefined);
      await listener.close();
    }
  });
  test('the leader’s lock connection is probed both ways (a leader whose host vanishes loses the lock within about half a minute, not two hours), and goes back to the pool as it was', async () => {
    // Its own pool, to find the lock's connection among the clients it made.
    const clients: pg.Client[] = [];
    const probed = database.pool(2);
    probed.on('connect', (c) => clients.push(c));
    const projection = projectionOf('probed');
    let leading!: () => void;
    const led = new Promise<void>((resolve) => (leading = resolve));
    const stop = new AbortController();
    const running = runProjection(probed, projection, { idleMs: 10, onLeadership: (leader) => leader && leading() }).run(stop.signal);
    let lockClient: pg.Client;
    try {
      await within(led, 30_000, 'the runner to take the lock');
      lockClient = await advisoryLockHolder(pool, clients, 'brigade.projection', `ordering.${projection.name}`);
      // The lock's connection idles between batches (they run on others): only probes find its peer gone.
      // Before: the operating system's 7200 / 75 / 9 and no user timeout on the server, no keepalive on the client.
      assert.deepEqual(await peerLossSettingsOf(lockClient), PROBED, 'the server probes the leader after 10 s idle, every 5 s, 3 times');
      assert.notEqual(await clientKeepsAlive(lockClient), false, 'the leader probes the server');
    } finally {
      stop.abort();
      await within(running, 30_000, 'the runner stops');
    }
    // Given back without the lock, the connection is a pooled one like the others again.
    const plain = await pool.connect();
    try {
      assert.deepEqual(await peerLossSettingsOf(lockClient), await peerLossSettingsOf(plain));
      assert.equal(await clientKeepsAlive(lockClient), await clientKeepsAlive(plain));
    } finally {
      plain.release();
    }
  });
});
