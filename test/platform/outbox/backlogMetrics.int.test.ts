import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createPgTransport, type Transport } from '../../../src/platform/messaging/index.ts';
import { createRelay, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import { outboxBacklogStatement } from '../../../src/platform/outbox/readOutboxBacklog.ts';
import { useTestDatabase } from '../../support/db.ts';
import { waitFor } from './support.ts';

/** The first key of the relay's leader lock ('outb', decision 0035). */
const LEADER_LOCK_CLASS = 0x6f75_7462;
const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(8);
  transport = createPgTransport({ pool, pollIntervalMs: 100 });
  database.defer(() => transport.close());
  // The plan test needs the outbox never analysed, as a new service's outbox is.
  await pool.query('alter table delivery.outbox set (autovacuum_enabled = false)');
});

/**
 * Writes `count` rows written `ageSeconds` ago, as the database owner, with transaction id `xid` (or the
 * inserting transaction's own, `null`); returns their ids in order.
 */
async function rows(xid: string | null, count: number, ageSeconds: number): Promise<string[]> {
  const { rows: inserted } = await pool.query<{ id: string }>(
    `insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload, created_at)
     select coalesce($1::xid8, pg_current_xact_id()), gen_random_uuid(), 'delivery.backlog.Step', 'k', '{"tenant": ""}', jsonb_build_object('n', g), now() - make_interval(secs => $3)
       from generate_series(1, $2::int) g
     returning id`,
    [xid, count, ageSeconds],
  );
  return inserted.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

describe('the outbox backlog metrics', () => {
  test('the backlog statement reads a range of outbox_relay_order, on an unanalysed outbox of a few thousand rows', async () => {
    const published = await rows('100', 3000, 60);
    await rows('101', 1000, 30);
    const { rows: stats } = await pool.query(`select reltuples from pg_class where oid = 'delivery.outbox'::regclass`);
    assert.equal(stats[0].reltuples, -1, 'precondition: never analysed');
    const statement = outboxBacklogStatement('delivery.outbox', { transactionId: '100', id: published.at(-1)! });
    // As the relay's metrics read it: the service role, actor kind system, under Row-Level Security.
    const plan = await unitOfWork(pool, { service: 'delivery', actor: { kind: 'system', id: 'test' }, readOnly: true }, async (tx) =>
      (await tx.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) ${statement.text}`, statement.values)).rows[0]!['QUERY PLAN'][0]!.Plan,
    );
    const nodes = nodesOf(plan);
    const outboxScans = nodes.filter((n) => n['Relation Name'] === 'outbox' || n['Index Name'] !== undefined);
    assert.ok(outboxScans.length >= 2, JSON.stringify(plan));
    assert.ok(!nodes.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'outbox'), `no Seq Scan on the outbox: ${JSON.stringify(plan)}`);
    assert.ok(
      outboxScans.every((n) => n['Node Type'] === 'Bitmap Heap Scan' || n['Index Name'] === 'outbox_relay_order'),
      `every read of the outbox goes through outbox_relay_order: ${JSON.stringify(plan)}`,
    );
    assert.ok(!nodes.some((n) => n['Relation Name'] === 'outbox_state'), 'the checkpoint is a bound value, not a join');
    await pool.query(`delete from delivery.outbox`);
  });

  test('one read per scrape serves both gauges: depth counts the rows after the checkpoint, the age is the first one’s', async () => {
    // Published rows (up to the checkpoint), then 7 that wait: the first written 42 s ago.
    const published = await rows(null, 30, 600);
    await pool.query(`update delivery.outbox_state set relayed_transaction_id = (select transaction_id from delivery.outbox where id = $1), relayed_id = $1`, [
      published.at(-1),
    ]);
    await rows(null, 1, 42);
    await rows(null, 6, 5);

    // The test holds the leader lock, so the relay stands by and the backlog stays put; its metrics are
    // registered all the same. The relay gets a pool of its own, and tries the lock only once here, so
    // every connection taken from that pool during a scrape is a backlog read.
    const leader = new pg.Client({ connectionString: database.db.url });
    await leader.connect();
    const relayPool = new pg.Pool({ connectionString: database.db.url, max: 4 });
    const registry = new client.Registry();
    const events: RelayEvent[] = [];
    const stop = new AbortController();
    let done: Promise<void> | undefined;
    try {
      const { rows: locked } = await leader.query(`select pg_try_advisory_lock($1::int, hashtext('brigade_outbox:delivery')) as ok`, [LEADER_LOCK_CLASS]);
      assert.equal(locked[0].ok, true);
      done = createRelay({ pool: relayPool, service: 'delivery', transport, lockPollMs: 600_000, registry, onProgress: (e) => events.push(e) }).run(stop.signal);
      await waitFor('the relay stands by', () => events.some((e) => e.kind === 'standby'));
      let reads = 0;
      relayPool.on('acquire', () => reads++);
      for (let scrape = 1; scrape <= 3; scrape++) {
        const text = await registry.metrics();
        assert.equal(reads, scrape, `one read per scrape (scrape ${scrape})`);
        assert.match(text, /brigade_outbox_depth\{outbox="delivery"\} 7\n/);
        const age = Number(/brigade_outbox_oldest_age_seconds\{outbox="delivery"\} ([\d.e+-]+)/.exec(text)?.[1]);
        assert.ok(age >= 42 && age < 42 + 600, `the oldest age is the first row’s (written 42 s ago): ${age}`);
      }
    } finally {
      stop.abort();
      await done;
      await relayPool.end();
      await leader.end();
    }
  });
});
