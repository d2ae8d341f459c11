import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import {
  busMigrationsSql,
  createPgTransport,
  ensureBusSchema,
  LeaseLostError,
  UnknownSubscriptionError,
  InvalidMessageError,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { claimDeliveries } from '../../../src/platform/messaging/postgres/claimDeliveries.ts';
import { ackDelivery, releaseDelivery, retryDelivery } from '../../../src/platform/messaging/postgres/settleDelivery.ts';
import { startDeliveries } from '../../../src/platform/messaging/postgres/startDeliveries.ts';
import { within } from '../../support/eventually.ts';
import { message, token, waitFor } from './support.ts';
import { transportContract } from './transportContract.ts';

const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(10);
  await Promise.all([ensureBusSchema(pool), ensureBusSchema(pool), ensureBusSchema(pool)]);
  transport = createPgTransport({ pool, pollIntervalMs: 200 });
  database.defer(() => transport.close());
});

transportContract('postgres', false, async () => ({ transport, pool, prefix: 'pgc', killableWorker: { kind: 'postgres', dbUrl: database.db.url }, teardown: async () => undefined }));

describe('PostgreSQL transport: leases and fencing', () => {
  test('a worker whose lease expired cannot ack the attempt another worker took over', async () => {
    const t = token();
    await transport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
    await transport.publish([message(`pgc.${t}.leased`, {})]);
    // Worker A claims and starts its run with a lease of 0 ms: it has expired by the next statement.
    const [a] = await claimDeliveries(pool, { subscription: t, limit: 10, leaseMs: 0 });
    assert.ok(a);
    assert.equal(a.attempt, 0, 'a claim counts no attempt');
    assert.deepEqual([...(await startDeliveries(pool, [a], 0))], [[a.deliveryId, 1]], 'the start counts the run');
    const [b] = await claimDeliveries(pool, { subscription: t, limit: 10, leaseMs: 60_000 });
    assert.ok(b, 'the expired lease was taken over');
    assert.equal(b.deliveryId, a.deliveryId);
    assert.equal(b.attempt, 1, "A's run");
    assert.deepEqual([...(await startDeliveries(pool, [a], 60_000))], [], "A's lease no longer starts a run");
    assert.notEqual(b.lease, a.lease);
    await assert.rejects(ackDelivery(pool, a), (e: unknown) => e instanceof LeaseLostError && e.code === 'MESSAGE_LEASE_LOST');
    await assert.rejects(retryDelivery(pool, a, 0, 'late'), LeaseLostError);
    // B's lease holds: nobody else can claim it, and B's ack is accepted.
    assert.deepEqual(await claimDeliveries(pool, { subscription: t, limit: 10, leaseMs: 60_000 }), []);
    await ackDelivery(pool, b);
    const { rows } = await pool.query('select count(*)::int as n from brigade_bus.deliveries where subscription = $1', [t]);
    assert.equal(rows[0].n, 0);
  });

  test('a claim counts a run only for the deliveries started at once (its oldest), not for those queued nor for one whose attempts are used up; a release takes its count back', async () => {
    const t = token();
    await transport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
    const sent = [1, 2, 3, 4].map((n) => message(`pgc.${t}.x`, { n }));
    await transport.publish(sent);
    // The oldest has used up its 3 attempts (its workers were lost): the claim does not count it.
    await pool.query('update brigade_bus.deliveries set attempt = 3 where message_id = $1', [sent[0]!.id]);
    const claimed = await claimDeliveries(pool, { subscription: t, limit: 4, leaseMs: 60_000, startNow: 2, maxAttempts: 3 });
    const byMessage = (id: string) => claimed.find((d) => d.messageId === id)!;
    assert.deepEqual(
      sent.map((m) => [byMessage(m.id).attempt, byMessage(m.id).started]),
      [[3, false], [1, true], [0, false], [0, false]],
    );
    await releaseDelivery(pool, byMessage(sent[1]!.id));
    await releaseDelivery(pool, byMessage(sent[2]!.id));
    const { rows } = await pool.query('select message_id::text as id, attempt from brigade_bus.deliveries where message_id = any($1::uuid[])', [[sent[1]!.id, sent[2]!.id]]);
    assert.deepEqual(rows.map((r) => r.attempt), [0, 0], 'given back unrun: no run counted');
  });

  test('a message whose workers were lost on every attempt is parked, not run again (attempts counted as each run started)', async () => {
    const t = token();
    await transport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
    const m = message(`pgc.${t}.lethal`, {});
    await transport.publish([m]);
    // Three workers claim it, start a run and die before settling: a lease of 0 ms lets the next claim
    // take it over. Each claim sees the runs started before it.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [d] = await claimDeliveries(pool, { subscription: t, limit: 1, leaseMs: 0 });
      assert.equal(d?.attempt, attempt - 1);
      assert.equal((await startDeliveries(pool, [d!], 0)).get(d!.deliveryId), attempt);
    }
    const handled: string[] = [];
    const stop = new AbortController();
    const worker = transport.subscribe({ subscription: t, maxAttempts: 3, signal: stop.signal }, async (got) => void handled.push(got.id));
    try {
      await waitFor('the message is dead-lettered', async () => (await pool.query('select 1 from brigade_bus.dead_letters where subscription = $1', [t])).rowCount === 1);
    } finally {
      stop.abort();
      await worker.done;
    }
    assert.deepEqual(handled, [], 'the fourth claim did not run the handler');
    const { rows } = await pool.query('select message_id::text, attempts, error from brigade_bus.dead_letters where subscription = $1', [t]);
    assert.equal(rows[0].message_id, m.id);
    // Three attempts ran (and were lost): the fourth claim only parked it (as on JetStream).
    assert.equal(rows[0].attempts, 3);
    // No inbox check: the letter cannot say whether the last run was handled, and says so.
    assert.match(rows[0].error, /^AttemptsExhaustedError \[MESSAGE_ATTEMPTS_EXHAUSTED\]: The last of 3 attempts was never settled .*: its outcome is unknown: it may have been handled/);
    assert.equal((await pool.query('select count(*)::int as n from brigade_bus.deliveries where subscription = $1', [t])).rows[0].n, 0);
  });

  test('two claims racing skip each other’s locked rows (SKIP LOCKED, forced with an open transaction)', async () => {
    const t = token();
    await transport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
    await transport.publish([message(`pgc.${t}.x`, { n: 1 }), message(`pgc.${t}.x`, { n: 2 })]);
    const holder = await pool.connect();
    try {
      await holder.query('begin');
      // Lock the oldest row as an in-progress claim would, and keep the transaction open.
      const { rows } = await holder.query(
        `select id from brigade_bus.deliveries where subscription = $1 order by run_at, id limit 1 for update skip locked`,
        [t],
      );
      const claimed = await claimDeliveries(pool, { subscription: t, limit: 10, leaseMs: 60_000 });
      assert.equal(claimed.length, 1, 'the locked row is skipped, not waited for');
      assert.notEqual(claimed[0]!.deliveryId, String(rows[0].id));
      await holder.query('rollback');
    } finally {
      holder.release();
    }
  });

  test('a slow consumer leaves the rest of the backlog in the database (claimed ≤ concurrency + prefetch)', async () => {
    const t = token();
    await transport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
    await transport.publish(Array.from({ length: 50 }, () => message(`pgc.${t}.x`, {})));
    const c = new AbortController();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const w = transport.subscribe({ subscription: t, concurrency: 2, prefetch: 3, signal: c.signal }, async () => {
      started++;
      await gate;
    });
    while (started < 2) await new Promise((r) => setTimeout(r, 10));
    const { rows } = await pool.query('select count(*) filter (where lease is not null)::int as leased, count(*)::int as total from brigade_bus.deliveries where subscription = $1', [t]);
    assert.ok(rows[0].leased <= 5, `leased ${rows[0].leased}`);
    assert.equal(rows[0].total, 50);
    c.abort();
    release();
    await w.done;
    // Prefetched but never started deliveries were given back, uncounted.
    const after = await pool.query('select count(*)::int as n from brigade_bus.deliveries where subscription = $1 and lease is null and attempt = 0', [t]);
    assert.equal(after.rows[0].n, 48);
  });

  test('a prefetched delivery whose lease ran out while it waited is not run: the worker that took it over has it', async () => {
    const t = token();
    await transport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*`, leaseMs: 3000 });
    const [first, second] = [message(`pgc.${t}.x`, { n: 1 }), message(`pgc.${t}.x`, { n: 2 })];
    await transport.publish([first, second]);
    const handled: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const c = new AbortController();
    // One handler at a time, one prefetched: the first runs (its heartbeat keeps its lease), the second waits.
    const w = transport.subscribe({ subscription: t, concurrency: 1, prefetch: 1, signal: c.signal }, async (m) => {
      handled.push(m.id);
      if (m.id === first.id) await gate;
    });
    try {
      await waitFor('the first runs', () => handled.length === 1);
      // Another worker takes the second over once its lease has run out.
      let takenOver: Awaited<ReturnType<typeof claimDeliveries>> = [];
      await waitFor('the waiting delivery is taken over', async () => (takenOver = await claimDeliveries(pool, { subscription: t, limit: 10, leaseMs: 60_000 })).length > 0, 60_000, 50);
      // Its claim by the first worker counted no attempt: it never ran there.
      assert.deepEqual(takenOver.map((d) => [d.messageId, d.attempt]), [[second.id, 0]]);
      release();
      await waitFor('the first is acked', async () => (await pool.query('select 1 from brigade_bus.deliveries where message_id = $1', [first.id])).rowCount === 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(handled, [first.id], 'the second was not run by the worker whose lease it lost');
    } finally {
      release();
      c.abort();
      await w.done;
    }
  });

  test('a worker starting while the transport closes opens no LISTEN connection it would not give back', async () => {
    const t = token();
    const own = new pg.Pool({ connectionString: database.db.url, max: 4, application_name: `closing-${t}` });
    const closing = createPgTransport({ pool: own, pollIntervalMs: 200 });
    try {
      await closing.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
      const c = new AbortController();
      // The worker is reading its subscription when the transport closes; it resumes after.
      const w = closing.subscribe({ subscription: t, signal: c.signal }, async () => undefined);
      c.abort();
      await closing.close();
      await w.done;
    } finally {
      // pool.end() waits for every connection checked out: a listener opened after close() never comes back.
      await within(own.end(), 10_000, 'the pool ends: every connection came back');
    }
  });

  test('the LISTEN connection breaking after close (the server ending its session) is not released twice', async () => {
    const t = token();
    // Named, so that only this pool's sessions are counted: the file's other transport listens too.
    const own = new pg.Pool({ connectionString: database.db.url, max: 4, application_name: `listen-${t}` });
    own.on('error', () => undefined); // the pool reports a broken connection of its own as well
    const clients: pg.PoolClient[] = [];
    own.on('connect', (client) => clients.push(client as pg.PoolClient));
    const pgTransport = createPgTransport({ pool: own, pollIntervalMs: 200 });
    try {
      await pgTransport.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
      const c = new AbortController();
      const worker = pgTransport.subscribe({ subscription: t, signal: c.signal }, async () => undefined);
      let listening: pg.PoolClient | undefined;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && listening === undefined; ) {
        const { rows } = await pool.query(`select count(*)::int as n from pg_stat_activity where application_name = $1 and query like 'listen %' and state = 'idle'`, [`listen-${t}`]);
        if (rows[0].n > 0) listening = clients.find((client) => client.listenerCount('notification') > 0);
        if (listening === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(listening, 'the transport listens');
      c.abort();
      await worker.done;
      await pgTransport.close();
      assert.doesNotThrow(() => listening.emit('error', new Error('terminating connection due to administrator command')));
    } finally {
      await pgTransport.close();
      await own.end();
    }
  });

  test('a LISTEN connection that breaks is opened again: a publish after it wakes the worker, whose poll would not come for an hour', async () => {
    const t = token();
    const name = `relisten-${t}`;
    // Named, so that only this pool's sessions are seen: the file's other transport listens too.
    const own = new pg.Pool({ connectionString: database.db.url, max: 4, application_name: name });
    own.on('error', () => undefined); // the pool reports the terminated connection as well
    const relisten = createPgTransport({ pool: own, pollIntervalMs: 3_600_000 });
    const listeners = async () =>
      (await pool.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = $1 and query like 'listen %' and state = 'idle' order by pid`, [name])).rows.map((r) => r.pid);
    const handled: string[] = [];
    const c = new AbortController();
    let worker: { done: Promise<void> } | undefined;
    try {
      await relisten.ensureSubscription({ subscription: t, pattern: `pgc.${t}.*` });
      worker = relisten.subscribe({ subscription: t, signal: c.signal }, async (m) => void handled.push(m.id));
      await waitFor('the transport listens', async () => (await listeners()).length === 1);
      const [first] = await listeners();
      // A first message shows the worker is past its first claim and asleep on the LISTEN.
      const before = message(`pgc.${t}.before`, {});
      await relisten.publish([before]);
      await waitFor('the first message handled', () => handled.includes(before.id));
      await pool.query('select pg_terminate_backend($1)', [first]);
      await waitFor('a new LISTEN connection', async () => {
        const now = await listeners();
        return now.length === 1 && now[0] !== first;
      });
      const after = message(`pgc.${t}.after`, {});
      await relisten.publish([after]);
      // Only a NOTIFY can wake the worker: its poll interval is an hour.
      await waitFor('the message published after the break handled', () => handled.includes(after.id));
    } finally {
      c.abort();
      await worker?.done;
      await relisten.close();
      await within(own.end(), 10_000, 'the pool ends: the reconnected listener came back');
    }
  });

  test('refuses unknown subscriptions, bad subjects and bad patterns', async () => {
    const c = new AbortController();
    await assert.rejects(transport.subscribe({ subscription: 'nope', signal: c.signal }, async () => undefined).done, UnknownSubscriptionError);
    await assert.rejects(transport.publish([message('not-a-subject', {})]), InvalidMessageError);
    await assert.rejects(transport.publish([message('a.b.c', {}, { id: "x'; drop table brigade_bus.messages; --" })]), InvalidMessageError);
    await assert.rejects(transport.ensureSubscription({ subscription: 'ok', pattern: 'a.>.b' }), InvalidMessageError);
    await assert.rejects(transport.ensureSubscription({ subscription: "x'; drop", pattern: 'a.b' }), InvalidMessageError);
  });

  test('a redelivery to an unknown subscription is refused and writes nothing (deliveries have no foreign keys)', async () => {
    const m = message('pgc.unknown.redrive', {});
    await assert.rejects(transport.redeliver(`nope_${token()}`, m), UnknownSubscriptionError);
    const { rows } = await pool.query('select (select count(*)::int from brigade_bus.messages where id = $1) as messages, (select count(*)::int from brigade_bus.deliveries where message_id = $1) as deliveries', [m.id]);
    assert.deepEqual(rows[0], { messages: 0, deliveries: 0 });
  });
});

describe('bus migrations', () => {
  test('the lean-deliveries migration turns the first schema into the current one, and changes nothing when run again', async () => {
    const old = await createTestDatabase();
    const oldPool = new pg.Pool({ connectionString: old.url, max: 2 });
    try {
      const [first, lean] = busMigrationsSql();
      // The test database comes migrated: start from the bus as the first migration made it.
      await oldPool.query('drop schema brigade_bus cascade');
      await oldPool.query(first!);
      const shape = async () =>
        (
          await oldPool.query<{ d: string }>(
            `select string_agg(x, '; ' order by x) as d from (
               select conname || ' ' || contype::text as x from pg_constraint where conrelid = 'brigade_bus.deliveries'::regclass
               union all select indexdef from pg_indexes where schemaname = 'brigade_bus' and tablename = 'deliveries') s`,
          )
        ).rows[0]!.d;
      assert.match(await shape(), /deliveries_message_id_fkey f/);
      await oldPool.query(lean!);
      const once = await shape();
      assert.doesNotMatch(once, / f(;|$)/, 'no foreign key is left');
      assert.doesNotMatch(once, /deliveries_message_idx|deliveries_subscription_message_id_key/);
      assert.match(once, /UNIQUE INDEX deliveries_message_subscription ON brigade_bus\.deliveries USING btree \(message_id, subscription\)/);
      await oldPool.query(lean!);
      assert.equal(await shape(), once);
      // A publish after the upgrade dedupes deliveries through the new index.
      const upgraded = createPgTransport({ pool: oldPool, pollIntervalMs: 200 });
      await upgraded.ensureSubscription({ subscription: 'up', pattern: 'pgc.up.*' });
      const m = message('pgc.up.once', {});
      await upgraded.publish([m]);
      await upgraded.publish([m]);
      await upgraded.redeliver('up', m);
      const { rows } = await oldPool.query('select count(*)::int as n from brigade_bus.deliveries where message_id = $1', [m.id]);
      assert.equal(rows[0].n, 1);
      await upgraded.close();
    } finally {
      await oldPool.end();
      await old.drop();
    }
  });
});
