import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { commitStatements, unitOfWork, type CommitStatementsFn } from '../../../src/platform/db/index.ts';
import { createEventStore } from '../../../src/platform/events/index.ts';
import { ConcurrencyError, ValidationError } from '../../../src/platform/errors/index.ts';
import { createPgTransport, type Message, type Transport } from '../../../src/platform/messaging/index.ts';
import { createRelay, outboxAppendSql, writeToOutbox, OutboxSubjectRefusedError, type RelayEvent, type RelayOptions } from '../../../src/platform/outbox/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { clientKeepsAlive, peerLossSettingsOf, PROBED } from '../../support/peerLoss.ts';
import { outboxRows, produce, relayLockHolder, sequencesByKey, TENANT, token, waitFor } from './support.ts';

/**
 * Safety net for anything that waits on the xmin horizon: it is cluster-wide, so a transaction another
 * test file holds open delays (never reorders or loses) delivery here (decision 0011).
 */
const DELIVERY_MS = 120_000;
const relays: Array<{ stop(): Promise<void> }> = [];
const consumers: Array<{ stop(): Promise<void> }> = [];
const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(20);
  transport = createPgTransport({ pool, pollIntervalMs: 100 });
  database.defer(() => transport.close());
});
afterEach(async () => {
  for (const r of relays.splice(0)) await r.stop();
  for (const c of consumers.splice(0)) await c.stop();
});

/** A consumer of `pattern` with one handler (so it sees the bus order), collecting what it receives. */
async function consume(pattern: string): Promise<{ received: Message[]; stop(): Promise<void> }> {
  const subscription = `${token()}-c`;
  await transport.ensureSubscription({ subscription, pattern });
  const received: Message[] = [];
  const c = new AbortController();
  const w = transport.subscribe({ subscription, concurrency: 1, signal: c.signal }, async (m) => {
    received.push(m);
  });
  const handle = {
    received,
    stop: async () => {
      c.abort();
      await w.done;
    },
  };
  consumers.push(handle);
  return handle;
}

/** Starts a relay of the delivery outbox; collects its events. */
function startRelay(extra: Partial<RelayOptions> = {}) {
  const events: RelayEvent[] = [];
  const c = new AbortController();
  const relay = createRelay({ pool, service: 'delivery', transport, lockPollMs: 50, pollIntervalMs: 200, onProgress: (e) => events.push(e), ...extra });
  const done = relay.run(c.signal);
  const handle = { relay, events, stop: async () => (c.abort(), await done) };
  relays.push(handle);
  return handle;
}

describe('writeToOutbox and outboxAppendSql', () => {
  test('messages commit with the business transaction, carry the lineage headers, and only for the transaction’s own tenant', async () => {
    const subject = `delivery.${token()}.Created`;
    const ids = await unitOfWork(pool, { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff', id: TENANT } }, (tx) =>
      writeToOutbox(tx, [
        { subject, key: 'a1', headers: { correlation: 'corr-1', causation: 'cmd-1', traceparent: '00-abc-def-01' }, payload: { n: 1 } },
        { subject, key: 'a1', payload: { n: 2 } },
      ]),
    );
    await assert.rejects(
      unitOfWork(pool, { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff', id: TENANT } }, async (tx) => {
        await writeToOutbox(tx, [{ subject, key: 'a2', payload: { n: 3 } }]);
        throw new Error('business rule failed');
      }),
      /business rule failed/,
    );
    await assert.rejects(
      unitOfWork(pool, { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff', id: TENANT } }, (tx) =>
        writeToOutbox(tx, [{ subject, key: 'a3', headers: { tenant: '0198c3a0-0000-7000-8000-0000000000bb' }, payload: null }]),
      ),
      /row-level security/,
      'a tenant cannot write a message labelled with another tenant',
    );
    const rows = await unitOfWork(pool, { service: 'delivery', actor: { kind: 'system', id: 'test' } }, async (tx) =>
      (await tx.query('select message_id, aggregate_key, headers, payload from delivery.outbox where subject = $1 order by id', [subject])).rows,
    );
    const lineage = { source: 'delivery', actor: `staff:${TENANT}`, 'schema-version': '1' };
    assert.deepEqual(rows, [
      {
        message_id: ids[0],
        aggregate_key: 'a1',
        headers: { correlation: 'corr-1', causation: 'cmd-1', tenant: TENANT, traceparent: '00-abc-def-01', ...lineage },
        payload: { n: 1 },
      },
      { message_id: ids[1], aggregate_key: 'a1', headers: { correlation: ids[1], causation: '', tenant: TENANT, traceparent: '', ...lineage }, payload: { n: 2 } },
    ]);
    const asStaff = await unitOfWork(pool, { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff', id: TENANT } }, (tx) => tx.query('select * from delivery.outbox'));
    assert.equal(asStaff.rowCount, 0, 'only the relay (actor kind system) reads the outbox');
  });

  test('outboxAppendSql writes each appended event as <service>.<aggregate>.<Type>, keyed by stream, in the append’s transaction', async () => {
    const store = createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') });
    const orderId = randomUUID();
    const stream = `order-${orderId}`;
    // As placement does it: the order index names the customer before their first append (ordering 0042).
    const appended = await unitOfWork(pool, { service: 'ordering', tenantId: TENANT, actor: { kind: 'customer', id: TENANT } }, async (tx) => {
      await tx.query('insert into ordering.order_index (tenant_id, order_id, customer_id) values ($1, $2, $1)', [TENANT, orderId]);
      return store.append(tx, stream, [{ type: 'OrderPlaced', data: { total: 12 }, extra: { traceparent: '00-t-p-01' } }, { type: 'OrderPaid', data: { paid: true } }], 0, {
        correlationId: '0198c3a0-0000-7000-8000-00000000c0aa',
        causationId: '0198c3a0-0000-7000-8000-00000000c0bb',
      });
    });
    const rows = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'test' } }, async (tx) =>
      (await tx.query('select message_id, subject, aggregate_key, headers, payload, transaction_id::text as xid from ordering.outbox where aggregate_key = $1 order by id', [stream])).rows,
    );
    assert.equal(rows.length, 2);
    const [placed, paid] = appended.events;
    assert.deepEqual(
      rows.map((r) => [r.message_id, r.subject, r.aggregate_key, r.payload, r.xid]),
      [
        [placed!.metadata.messageId, 'ordering.order.OrderPlaced', stream, { total: 12 }, placed!.globalPosition.transactionId.toString()],
        [paid!.metadata.messageId, 'ordering.order.OrderPaid', stream, { paid: true }, paid!.globalPosition.transactionId.toString()],
      ],
    );
    assert.deepEqual(rows[0]!.headers, {
      correlation: '0198c3a0-0000-7000-8000-00000000c0aa',
      causation: '0198c3a0-0000-7000-8000-00000000c0bb',
      tenant: TENANT,
      traceparent: '00-t-p-01',
      source: 'ordering',
      actor: `customer:${TENANT}`,
      'schema-version': '1',
    });
    assert.equal(rows[1]!.headers.traceparent, '');
  });

  test('outboxAppendSql writes nothing when the append is refused, and refuses a type that is not a subject token before sending', async () => {
    const store = createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') });
    const context = { service: 'ordering', tenantId: TENANT, actor: { kind: 'customer' as const, id: TENANT } };
    const commit: CommitStatementsFn = (ctx, statements) => commitStatements(pool, ctx, statements);
    const orderId = randomUUID();
    const stream = `order-${orderId}`;
    // The customer's order, in the order index: a customer appends only to their own orders (ordering 0042).
    await unitOfWork(pool, context, (tx) => tx.query('insert into ordering.order_index (tenant_id, order_id, customer_id) values ($1, $2, $1)', [TENANT, orderId]));
    await store.appendAndCommit(commit, context, stream, [{ type: 'OrderPlaced', data: { n: 1 } }], 0);
    await assert.rejects(store.appendAndCommit(commit, context, stream, [{ type: 'OrderAccepted', data: { n: 2 } }], 0), ConcurrencyError);
    await assert.rejects(
      unitOfWork(pool, context, (tx) => store.append(tx, stream, [{ type: 'OrderPlaced', data: { n: 3 } }], 0)),
      ConcurrencyError,
    );
    await assert.rejects(store.appendAndCommit(commit, context, stream, [{ type: 'Order.Placed', data: { n: 4 } }], 1), ValidationError);
    const rows = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'test' } }, async (tx) =>
      (await tx.query('select subject, payload from ordering.outbox where aggregate_key = $1 order by id', [stream])).rows,
    );
    assert.deepEqual(rows, [{ subject: 'ordering.order.OrderPlaced', payload: { n: 1 } }]);
  });
});

describe('relay', { timeout: 600_000 }, () => {
  test('late commit: a row committed late is neither skipped nor overtaken by its aggregate’s later rows', async () => {
    const subject = `delivery.${token()}.Moved`;
    const consumer = await consume(subject);
    const relay = startRelay();
    // Transaction A writes seq 1 of aggregate k and stays open; B and C (later transactions) commit seq 2, 3.
    const held = await pool.connect();
    try {
    await held.query('begin');
    await held.query('set local role brigade_delivery');
    await held.query(`select set_config('brigade.tenant_id', $1, true)`, [TENANT]);
    await held.query(
      `insert into delivery.outbox (message_id, subject, aggregate_key, headers, payload)
       values (gen_random_uuid(), $1, 'k', jsonb_build_object('tenant', $2::text, 'correlation', 'c', 'causation', '', 'traceparent', ''), '{"key":"k","seq":1}')`,
      [subject, TENANT],
    );
    await produce(pool, subject, 'k', 2);
    await produce(pool, subject, 'k', 3);
    // The relay saw B's and C's committed rows and held them: they sort after A's open transaction.
    const seenHeld = relay.events.length;
    await waitFor('the relay holds rows behind the open transaction', () => relay.events.slice(seenHeld).some((e) => e.kind === 'held')).catch((e: unknown) => {
      throw new Error(`${String(e)}; relay events: ${JSON.stringify(relay.events.map((x) => x.kind))}`);
    });
    const passed = relay.events.flatMap((e) => (e.kind === 'published' ? e.messages : [])).filter((m) => m.subject === subject);
    assert.deepEqual(passed, [], 'nothing passes the open transaction');
    assert.equal(consumer.received.length, 0);

    await held.query('commit');
    } finally {
      await held.query('rollback').catch(() => undefined);
      held.release();
    }
    await waitFor('all three delivered', () => consumer.received.length >= 3, DELIVERY_MS);
    assert.deepEqual(sequencesByKey(consumer.received).get('k'), [1, 2, 3]);
    // The checkpoint that marks them travels with the relay's next claim, a poll step after the publish.
    await waitFor('all marked', async () => (await outboxRows(pool)).filter((r) => r.aggregate_key === 'k').every((r) => r.published), DELIVERY_MS);
    await relay.stop();
    await consumer.stop();
  });

  test('two relays: one leads; per-aggregate order holds across batches and across a takeover when the leader’s session dies', async () => {
    const subject = `delivery.${token()}.Step`;
    const consumer = await consume(subject);
    const a = startRelay({ batchSize: 7 });
    const b = startRelay({ batchSize: 7 });
    await waitFor('a leader', () => a.relay.isLeader() || b.relay.isLeader());
    await waitFor('the other one stands by', () => [a, b].some((r) => r.events.some((e) => e.kind === 'standby')));
    assert.equal(Number(a.relay.isLeader()) + Number(b.relay.isLeader()), 1, 'exactly one leader');
    const [leader, standby] = a.relay.isLeader() ? [a, b] : [b, a];

    // 6 concurrent producers, one per aggregate, 15 steps each: each aggregate's steps are written in order.
    const keys = Array.from({ length: 6 }, (_, i) => `agg${i}`);
    const writeSteps = async (from: number, to: number) => {
      await Promise.all(keys.map(async (key) => {
        for (let seq = from; seq <= to; seq++) await produce(pool, subject, key, seq);
      }));
    };
    await writeSteps(1, 15);
    await waitFor('first half delivered', () => consumer.received.length >= 90, DELIVERY_MS);
    assert.ok(!standby.events.some((e) => e.kind === 'published' || e.kind === 'leader'), 'the standby neither led nor published');

    // Kill the leader's session (as if its process died): the standby takes the lock over.
    await pool.query(
      `select pg_terminate_backend(pid) from pg_locks
        where locktype = 'advisory' and classid = $1 and objsubid = 2 and granted and database = (select oid from pg_database where datname = current_database())`,
      [0x6f757462],
    );
    await waitFor('the standby took over', () => standby.relay.isLeader());
    await waitFor('the old leader lost the lead', () => !leader.relay.isLeader());
    await writeSteps(16, 30);
    await waitFor('second half delivered', () => consumer.received.length >= 180, DELIVERY_MS);
    assert.equal(Number(a.relay.isLeader()) + Number(b.relay.isLeader()), 1, 'still exactly one leader');
    for (const key of keys) {
      const seqs = sequencesByKey(consumer.received).get(key)!;
      assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i + 1), `aggregate ${key} in order, each once`);
    }
    await Promise.all([a.stop(), b.stop()]);
    await consumer.stop();
  });

  test('with the bus in the outbox’s own database, claim and publish are one statement: the rows never come back to the relay', async () => {
    const subject = `delivery.${token()}.InDatabase`;
    const consumer = await consume(subject);
    // A transport whose publish fails: only the in-database path (same pool) can deliver anything.
    const sent: unknown[] = [];
    const inDatabaseOnly: Transport = {
      ...transport,
      publish: async (messages) => {
        sent.push(...messages);
        throw new Error('publish must not be called');
      },
    };
    const relay = startRelay({ transport: inDatabaseOnly, batchSize: 5 });
    for (const key of ['x', 'y']) for (let seq = 1; seq <= 6; seq++) await produce(pool, subject, key, seq);
    await waitFor('all twelve delivered', () => consumer.received.length >= 12, DELIVERY_MS);
    assert.deepEqual(sent, [], 'transport.publish was never called');
    assert.deepEqual(sequencesByKey(consumer.received).get('x'), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(sequencesByKey(consumer.received).get('y'), [1, 2, 3, 4, 5, 6]);
    const published = relay.events.flatMap((e) => (e.kind === 'published' ? e.messages : [])).filter((m) => m.subject === subject);
    assert.equal(published.length, 12);
    assert.ok(published.every((m) => m.payload === null && m.headers.tenant === TENANT), 'events carry the rows without their payload');
    // The consumer got the payloads and headers the producers wrote, and each message once.
    assert.equal(new Set(consumer.received.map((m) => m.id)).size, 12);
    assert.ok(consumer.received.every((m) => m.headers.tenant === TENANT));
    await relay.stop();
    await waitFor('checkpoint saved', async () => (await outboxRows(pool)).filter((r) => r.aggregate_key === 'x' || r.aggregate_key === 'y').every((r) => r.published));
  });

  test('a service role that may not write the bus: the relay reports it once and publishes through the transport', async () => {
    const subject = `delivery.${token()}.NoGrant`;
    const consumer = await consume(subject);
    await pool.query('revoke insert on brigade_bus.messages from brigade_delivery');
    try {
      const relay = startRelay();
      for (let seq = 1; seq <= 3; seq++) await produce(pool, subject, 'g', seq);
      await waitFor('all three delivered', () => consumer.received.length >= 3, DELIVERY_MS);
      assert.deepEqual(sequencesByKey(consumer.received).get('g'), [1, 2, 3]);
      const refusals = relay.events.filter((e) => e.kind === 'error' && /may not insert into the bus/.test(String(e.error)));
      assert.equal(refusals.length, 1);
      await relay.stop();
    } finally {
      await pool.query('grant insert on brigade_bus.messages to brigade_delivery');
    }
  });

  for (const path of ['in the database', 'through the transport'] as const) {
    test(`a row of another service's subject stops the relay ${path}: it is never published (not as the platform either), and the relay goes on once the row is gone`, async () => {
      const t = token();
      const own = `delivery.${t}.Own`;
      const forged = `ordering.${t}.OrderPlaced`;
      const ownConsumer = await consume(own);
      const forgedConsumer = await consume(forged);
      // Through the transport: a transport without busPool (a bus elsewhere, JetStream) takes the general path.
      const relay = startRelay(path === 'in the database' ? {} : { transport: { ...transport, busPool: undefined } });
      await produce(pool, own, 'o', 1);
      await waitFor('the row before it delivered', () => ownConsumer.received.length === 1, DELIVERY_MS);
      // The delivery service's own transaction writes an ordering subject into its outbox.
      const forgedId = await produce(pool, forged, 'f', 1);
      const deleteForged = () => pool.query('delete from delivery.outbox where message_id = $1', [forgedId]);
      try {
        await produce(pool, own, 'o', 2);
        const refused = () => relay.events.filter((e) => e.kind === 'error' && (e.error as { code?: string }).code === 'OUTBOX_SUBJECT_NOT_OWN');
        const ownAfter = () => ownConsumer.received.length > 1;
        await waitFor('the relay refuses the row (or publishes it)', () => refused().length > 0 || forgedConsumer.received.length > 0 || ownAfter(), DELIVERY_MS);
        // Before, the in-database relay took the bus's refusal for a missing grant and published the row
        // through the transport (as the bus's owner), and the general path published it as it was.
        assert.deepEqual(forgedConsumer.received, []);
        const error = (refused()[0] as { error: OutboxSubjectRefusedError } | undefined)?.error;
        assert.ok(error instanceof OutboxSubjectRefusedError);
        assert.equal(error.details.messageId, forgedId);
        assert.equal(error.details.subject, forged);
        assert.match(error.message, /delete from delivery\.outbox where id = \d+/);
        assert.equal((await pool.query('select 1 from brigade_bus.messages where subject = $1', [forged])).rowCount, 0);
        assert.equal(ownConsumer.received.length, 1, 'nothing after the row went out either');
      } finally {
        // Also when the test failed: left behind, the row would stop the relays of the tests after this one.
        await deleteForged();
      }
      await waitFor('the relay goes on after the row was deleted', () => ownConsumer.received.length === 2, DELIVERY_MS);
      assert.deepEqual(sequencesByKey(ownConsumer.received).get('o'), [1, 2]);
      assert.deepEqual(forgedConsumer.received, []);
      await relay.stop();
    });
  }

  test('the leader’s lock connection is probed both ways: a leader whose host vanishes loses the lock within about half a minute, not two hours', async () => {
    // Its own pool, to find the lock's connection among the clients it made.
    const clients: pg.Client[] = [];
    const probed = database.pool(2);
    probed.on('connect', (c) => clients.push(c));
    // Polling is off, so once asleep the relay sends nothing: the client's socket shows its keepalive
    // timer, not the retransmission timer of a claim in flight.
    const relay = startRelay({ pool: probed, pollIntervalMs: 60_000 });
    await waitFor('the relay sleeps', () => relay.events.some((e) => e.kind === 'sleeping'), DELIVERY_MS);
    const lockClient = await relayLockHolder(pool, clients, 'delivery');
    // The leader's session idles while the relay sleeps on LISTEN: only probes find its peer gone.
    // Before: the operating system's 7200 / 75 / 9 and no user timeout on the server, no keepalive on the client.
    assert.deepEqual(await peerLossSettingsOf(lockClient), PROBED, 'the server probes the leader after 10 s idle, every 5 s, 3 times');
    assert.notEqual(await clientKeepsAlive(lockClient), false, 'the leader probes the server');
    await relay.stop();
  });

  test('an idle relay is woken by the producer’s NOTIFY (polling is off)', async () => {
    const subject = `delivery.${token()}.Woken`;
    const consumer = await consume(subject);
    const relay = startRelay({ pollIntervalMs: 60_000 });
    await waitFor('the relay sleeps', () => relay.events.some((e) => e.kind === 'sleeping'), DELIVERY_MS);
    const flag = await pool.query('select sleeping from delivery.outbox_state');
    assert.equal(flag.rows[0].sleeping, true);
    await produce(pool, subject, 'w', 1);
    await waitFor('delivered after the notification', () => consumer.received.length === 1, DELIVERY_MS);
    await relay.stop();
    await consumer.stop();
  });

  test('published rows are pruned after the retention; metrics show depth, age, count and leadership', async () => {
    const subject = `delivery.${token()}.Pruned`;
    const registry = new client.Registry();
    const id = await produce(pool, subject, 'p', 1);
    const relay = startRelay({ retentionMs: 1, pruneIntervalMs: 20, registry });
    await waitFor('pruned', async () => !(await outboxRows(pool)).some((r) => r.message_id === id), DELIVERY_MS);
    assert.ok(relay.events.some((e) => e.kind === 'pruned'));
    const text = await registry.metrics();
    assert.match(text, /brigade_outbox_depth\{outbox="delivery"\} 0/);
    assert.match(text, /brigade_outbox_oldest_age_seconds\{outbox="delivery"\} 0/);
    assert.match(text, /brigade_outbox_published_total\{outbox="delivery"\} [1-9]/);
    assert.match(text, /brigade_outbox_publish_latency_seconds_count\{outbox="delivery"\} [1-9]/);
    assert.match(text, /brigade_outbox_relay_leader\{outbox="delivery"\} 1/);
    await relay.stop();
  });
});
