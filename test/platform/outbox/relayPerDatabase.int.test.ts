import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { createPgTransport, type Transport } from '../../../src/platform/messaging/index.ts';
import { createRelay, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';

/** The first key of the relay's leader lock ('outb', decision 0035). */
const LEADER_LOCK_CLASS = 0x6f75_7462;

// Decision 0008: with a restaurant in a dedicated database, a process runs a relay of the same outbox
// on the shared database and one on the dedicated one, with one metrics registry. Each reports under
// its own series: the shared one's exactly as before (`{outbox="delivery"}`), the dedicated one's with
// `database="db1"`.
describe('relays of one outbox on two databases, one registry', () => {
  const shared = useTestDatabase();
  let dedicated: TestDatabase;
  let sharedPool: pg.Pool;
  let dedicatedPool: pg.Pool;
  let transport: Transport;

  before(async () => {
    await shared.ready;
    sharedPool = shared.pool(6);
    dedicated = await createTestDatabase();
    dedicatedPool = new pg.Pool({ connectionString: dedicated.url, max: 6 });
    transport = createPgTransport({ pool: sharedPool, pollIntervalMs: 100 });
    shared.defer(() => transport.close());
  });
  after(async () => {
    await dedicatedPool?.end();
    await dedicated?.drop();
  });

  /** Writes `count` delivery outbox rows into the database of `pool`, as its owner. */
  const write = (pool: pg.Pool, count: number, ageSeconds: number) =>
    pool.query(
      `insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload, created_at)
       select pg_current_xact_id(), gen_random_uuid(), 'delivery.perdb.Step', 'k', '{"tenant": ""}', jsonb_build_object('n', g), now() - make_interval(secs => $2)
         from generate_series(1, $1::int) g`,
      [count, ageSeconds],
    );
  const series = (text: string, metric: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${metric}{`))
      .sort();

  test('both backlogs show, each under its own labels, while both relays stand by', async () => {
    await write(sharedPool, 3, 30);
    await write(dedicatedPool, 5, 90);
    // The test holds both leader locks: the relays stand by and the backlogs stay put.
    const holders = [new pg.Client({ connectionString: shared.db.url }), new pg.Client({ connectionString: dedicated.url })];
    const registry = new client.Registry();
    const events: Array<{ where: string; event: RelayEvent }> = [];
    const stop = new AbortController();
    const runs: Array<Promise<void>> = [];
    try {
      for (const holder of holders) {
        await holder.connect();
        const { rows } = await holder.query(`select pg_try_advisory_lock($1::int, hashtext('brigade_outbox:delivery')) as ok`, [LEADER_LOCK_CLASS]);
        assert.equal(rows[0].ok, true);
      }
      runs.push(createRelay({ pool: sharedPool, service: 'delivery', transport, registry, lockPollMs: 600_000, onProgress: (event) => events.push({ where: 'shared', event }) }).run(stop.signal));
      runs.push(
        createRelay({ pool: dedicatedPool, service: 'delivery', transport, registry, lockPollMs: 600_000, database: 'db1', onProgress: (event) => events.push({ where: 'db1', event }) }).run(stop.signal),
      );
      await eventually('both relays stand by', async () => events.filter((e) => e.event.kind === 'standby').map((e) => e.where).sort(), (w) => w.join() === 'db1,shared');

      const text = await registry.metrics();
      assert.deepEqual(series(text, 'brigade_outbox_depth'), ['brigade_outbox_depth{outbox="delivery",database="db1"} 5', 'brigade_outbox_depth{outbox="delivery"} 3']);
      const age = (labels: string) => Number(new RegExp(`brigade_outbox_oldest_age_seconds\\{${labels}\\} ([\\d.e+-]+)`).exec(text)?.[1]);
      assert.ok(age('outbox="delivery"') >= 30 && age('outbox="delivery"') < 90, `the shared outbox's oldest row is 30 s old: ${age('outbox="delivery"')}`);
      assert.ok(age('outbox="delivery",database="db1"') >= 90, `the dedicated outbox's oldest row is 90 s old: ${age('outbox="delivery",database="db1"')}`);
    } finally {
      stop.abort();
      await Promise.all(runs);
      for (const holder of holders) await holder.end();
    }
    // Stopped relays no longer report a backlog.
    assert.deepEqual(series(await registry.metrics(), 'brigade_outbox_depth'), []);
  });

  test('both relays lead and publish: leader, published and latency per database', async () => {
    const registry = new client.Registry();
    const stop = new AbortController();
    const runs = [
      createRelay({ pool: sharedPool, service: 'delivery', transport, registry }).run(stop.signal),
      createRelay({ pool: dedicatedPool, service: 'delivery', transport, registry, database: 'db1' }).run(stop.signal),
    ];
    try {
      // What the first test left (3 and 5 rows) goes out now, with these.
      await write(sharedPool, 1, 0);
      await write(dedicatedPool, 2, 0);
      const text = await eventually(
        'both outboxes published and empty',
        () => registry.metrics(),
        (t) => series(t, 'brigade_outbox_depth').join() === 'brigade_outbox_depth{outbox="delivery",database="db1"} 0,brigade_outbox_depth{outbox="delivery"} 0',
      );
      assert.deepEqual(series(text, 'brigade_outbox_relay_leader'), ['brigade_outbox_relay_leader{outbox="delivery",database="db1"} 1', 'brigade_outbox_relay_leader{outbox="delivery"} 1']);
      assert.deepEqual(series(text, 'brigade_outbox_published_total'), [
        'brigade_outbox_published_total{outbox="delivery",database="db1"} 7',
        'brigade_outbox_published_total{outbox="delivery"} 4',
      ]);
      assert.deepEqual(series(text, 'brigade_outbox_publish_latency_seconds_count'), [
        'brigade_outbox_publish_latency_seconds_count{outbox="delivery",database="db1"} 7',
        'brigade_outbox_publish_latency_seconds_count{outbox="delivery"} 4',
      ]);
    } finally {
      stop.abort();
      await Promise.all(runs);
    }
  });

  test('an empty database label is refused', () => {
    assert.throws(() => createRelay({ pool: sharedPool, service: 'delivery', transport, database: '' }), /database must name the database/);
  });
});
