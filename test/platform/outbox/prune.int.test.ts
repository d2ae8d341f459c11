import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';
import pg from 'pg';
import { createPgTransport, type Transport } from '../../../src/platform/messaging/index.ts';
import { createRelay, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import type { OutboxCheckpoint } from '../../../src/platform/outbox/claimOutboxBatch.ts';
import { pruneOutbox } from '../../../src/platform/outbox/pruneOutbox.ts';
import { useTestDatabase } from '../../support/db.ts';
import { waitFor } from './support.ts';

/** The xmin horizon is cluster-wide: other test files' open transactions delay relaying (decision 0011). */
const RELAY_MS = 120_000;
const HOUR_MS = 3_600_000;
const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(8);
  transport = createPgTransport({ pool, pollIntervalMs: 100 });
  database.defer(() => transport.close());
  // Plans as on a new service's outbox, never analysed (and no vacuum clearing what a test deleted).
  await pool.query('alter table delivery.outbox set (autovacuum_enabled = false)');
});
afterEach(async () => {
  // Each test lays out the delivery outbox from scratch (as the database owner).
  await pool.query(`delete from delivery.outbox; update delivery.outbox_state set relayed_transaction_id = '0', relayed_id = 0`);
});

/**
 * Writes `count` rows of transaction id `xid` (small ids: below every real transaction of the cluster,
 * so below the horizon) written `ageMs` ago, as the database owner; returns their ids in order.
 */
async function rows(xid: number, count: number, ageMs: number): Promise<string[]> {
  const { rows: inserted } = await pool.query<{ id: string }>(
    `insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload, created_at)
     select $1::text::xid8, gen_random_uuid(), 'delivery.prune.Step', 'k', '{"tenant": ""}', jsonb_build_object('n', g), now() - make_interval(secs => $3::float8 / 1000)
       from generate_series(1, $2::int) g
     returning id`,
    [xid, count, ageMs],
  );
  return inserted.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
}

async function remaining(): Promise<string[]> {
  return (await pool.query<{ id: string }>('select id from delivery.outbox order by transaction_id, id')).rows.map((r) => r.id);
}

/** A leader-like session: the relay's role and actor kind, under the outbox's Row-Level Security. */
async function relaySession<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(
      `set role brigade_delivery; select set_config('brigade.actor_kind', 'system', false), set_config('brigade.actor_id', 'outbox-relay', false), set_config('brigade.tenant_id', '', false)`,
    );
    return await fn(client);
  } finally {
    client.release(true);
  }
}

describe('pruneOutbox', () => {
  test('by position: deletes every row up to the bound, in batches, in one call; never a row after it', async () => {
    const ids = await rows(300, 25, 0);
    const upTo: OutboxCheckpoint = { transactionId: '300', id: ids[19]! };
    const pass = await relaySession((client) => pruneOutbox(client, 'delivery.outbox', { upTo }, { batchSize: 4 }));
    assert.deepEqual(pass, { count: 20, through: upTo }, 'five full batches and an empty one');
    assert.deepEqual(await remaining(), ids.slice(20));
    const stopped = new AbortController();
    stopped.abort();
    const end: OutboxCheckpoint = { transactionId: '300', id: ids[24]! };
    assert.deepEqual(await relaySession((client) => pruneOutbox(client, 'delivery.outbox', { upTo: end }, { signal: stopped.signal })), { count: 0, through: null });
    assert.deepEqual(await remaining(), ids.slice(20), 'an aborted pass deletes nothing');
    // A pass that starts after a position leaves what is at or before it (the leader's earlier passes
    // deleted that; here it is the owner's rows, to show the bound).
    const earlier = await rows(299, 3, 0);
    assert.deepEqual(await relaySession((client) => pruneOutbox(client, 'delivery.outbox', { after: { transactionId: '299', id: earlier.at(-1)! }, upTo: end }, { batchSize: 2 })), {
      count: 5,
      through: end,
    });
    assert.deepEqual(await remaining(), earlier);
  });

  test('by age (rows a previous leader published): deletes the leading rows older than the retention, stops at the first younger one, never passes the bound', async () => {
    const old = await rows(400, 6, 2 * HOUR_MS);
    const young = await rows(401, 1, 0);
    const oldBehindYoung = await rows(402, 3, 2 * HOUR_MS);
    const afterBound = await rows(403, 2, 2 * HOUR_MS);
    const upTo: OutboxCheckpoint = { transactionId: '402', id: oldBehindYoung.at(-1)! };
    const pass = await relaySession((client) => pruneOutbox(client, 'delivery.outbox', { upTo, createdMoreThanMsAgo: HOUR_MS }, { batchSize: 4 }));
    assert.deepEqual(pass, { count: 6, through: { transactionId: '400', id: old.at(-1)! } });
    // The rows behind the young one are kept until it expires too: kept longer, never shorter.
    assert.deepEqual(await remaining(), [...young, ...oldBehindYoung, ...afterBound]);
  });
});

/** How the outbox has been read so far: sequential scans of the table, entries read from outbox_relay_order. */
async function reads(client: pg.ClientBase): Promise<{ seqScans: number; orderEntries: number }> {
  // Counters reach the shared statistics when a session goes idle, at most once a second unless forced.
  await client.query('select pg_stat_force_next_flush()');
  const { rows: stats } = await pool.query<{ seq: string; idx: string }>(
    `select t.seq_scan as seq, i.idx_tup_read as idx from pg_stat_user_tables t, pg_stat_user_indexes i
      where t.relid = 'delivery.outbox'::regclass and i.indexrelid = 'delivery.outbox_relay_order'::regclass`,
  );
  return { seqScans: Number(stats[0]!.seq), orderEntries: Number(stats[0]!.idx) };
}

describe('what a prune pass reads', () => {
  test('by age: what it deletes and one batch more, through the index, however many retained rows follow', async () => {
    const old = await rows(500, 300, 2 * HOUR_MS);
    const retained = await rows(501, 2000, 0);
    const upTo: OutboxCheckpoint = { transactionId: '501', id: retained.at(-1)! };
    const { before, pass, after } = await relaySession(async (client) => {
      const before = await reads(client);
      // Starting after the rows earlier tests deleted: their index entries stay until a vacuum, and
      // whether an earlier scan has already marked them dead varies from run to run.
      const pass = await pruneOutbox(client, 'delivery.outbox', { after: { transactionId: '499', id: '0' }, upTo, createdMoreThanMsAgo: HOUR_MS }, { batchSize: 100 });
      return { before, pass, after: await reads(client) };
    });
    assert.equal(pass.count, old.length);
    assert.equal(after.seqScans - before.seqScans, 0, 'no Seq Scan of the outbox');
    assert.ok(after.orderEntries - before.orderEntries <= old.length + 100, `read ${after.orderEntries - before.orderEntries} index entries`);
  });

  test('by position, every row due, on an unanalysed outbox: what it deletes, through the index; each batch starts where the last one stopped', async () => {
    const due = await rows(600, 3000, 0);
    const { rows: stats } = await pool.query(`select reltuples from pg_class where oid = 'delivery.outbox'::regclass`);
    assert.equal(stats[0].reltuples, -1, 'precondition: never analysed');
    const upTo: OutboxCheckpoint = { transactionId: '600', id: due.at(-1)! };
    const { before, pass, after } = await relaySession(async (client) => {
      const before = await reads(client);
      // Starting after the rows earlier tests deleted (their index entries stay until a vacuum), as a
      // leader's next pass starts after its last one.
      const pass = await pruneOutbox(client, 'delivery.outbox', { after: { transactionId: '599', id: '0' }, upTo }, { batchSize: 100 });
      return { before, pass, after: await reads(client) };
    });
    assert.equal(pass.count, due.length);
    assert.equal(after.seqScans - before.seqScans, 0, 'no Seq Scan of the outbox');
    assert.ok(after.orderEntries - before.orderEntries <= due.length + 100, `read ${after.orderEntries - before.orderEntries} index entries`);
    const { rows: setting } = await relaySession((client) => client.query('show enable_seqscan'));
    assert.equal(setting[0].enable_seqscan, 'on');
  });
});

describe('the relay’s prune', () => {
  test('one pass deletes everything due, far more than one batch; keeps rows inside the retention and rows published since', async () => {
    // 10,050 rows published (at or before the checkpoint) two hours after they were written: more than
    // the 10,000 a prune used to delete at most per minute. Then 20 published rows written just now,
    // the checkpoint, and 5 rows written two hours ago that the relay is yet to publish.
    const expired = await rows(100, 10_050, 2 * HOUR_MS);
    const recent = await rows(101, 20, 0);
    await pool.query(`update delivery.outbox_state set relayed_transaction_id = '101', relayed_id = $1`, [recent.at(-1)]);
    const unpublished = await rows(102, 5, 2 * HOUR_MS);

    const events: RelayEvent[] = [];
    const stop = new AbortController();
    const done = createRelay({ pool, service: 'delivery', transport, lockPollMs: 50, pollIntervalMs: 200, pruneBatchSize: 500, onProgress: (e) => events.push(e) }).run(stop.signal);
    try {
      await waitFor(
        'the relay publishes the 5 rows and prunes',
        () => events.some((e) => e.kind === 'pruned') && events.some((e) => e.kind === 'published' && e.messages.length > 0),
        RELAY_MS,
      );
    } finally {
      stop.abort();
      await done;
    }
    // One pass, 21 batches: the first prune (1 s after taking the lead) reports them all.
    assert.deepEqual(
      events.flatMap((e) => (e.kind === 'pruned' ? [e.count] : [])),
      [10_050],
    );
    const left = await remaining();
    assert.deepEqual(left, [...recent, ...unpublished], 'rows written within the retention, and rows published within it, stay');
    assert.ok(!left.some((id) => expired.includes(id)));
    const { rows: state } = await pool.query(`select relayed_transaction_id::text as xid from delivery.outbox_state`);
    assert.equal(state[0].xid, '102', 'the 5 rows were published: they stay because they were published only now');
  });

  test('a session that failed and came back keeps what this relay published within the retention', async () => {
    // 3 rows a predecessor published (at or before the checkpoint), written two hours ago: due by
    // their age. Then 5 rows written two hours ago that this relay publishes itself, just now.
    await rows(200, 3, 2 * HOUR_MS);
    const { rows: first } = await pool.query<{ id: string }>(`select max(id)::text as id from delivery.outbox`);
    await pool.query(`update delivery.outbox_state set relayed_transaction_id = '200', relayed_id = $1`, [first[0]!.id]);
    const ours = await rows(201, 5, 2 * HOUR_MS);

    const events: RelayEvent[] = [];
    const stop = new AbortController();
    const done = createRelay({ pool, service: 'delivery', transport, lockPollMs: 50, pollIntervalMs: 200, onProgress: (e) => events.push(e) }).run(stop.signal);
    try {
      await waitFor('the relay publishes its 5 rows', () => events.some((e) => e.kind === 'published' && e.messages.length === 5), RELAY_MS);
      // Its session fails (the connection is cut); the same relay leads again with a new session.
      await pool.query(
        `select pg_terminate_backend(pid) from pg_locks
          where locktype = 'advisory' and classid = $1 and objsubid = 2 and granted and database = (select oid from pg_database where datname = current_database())`,
        [0x6f757462],
      );
      await waitFor('the relay leads again', () => events.filter((e) => e.kind === 'leader').length >= 2, RELAY_MS);
      await waitFor("the predecessor's 3 rows are pruned", async () => (await remaining()).length <= 5, RELAY_MS);
      // The new session's first pass starts 1 s after it took the lead; give it that, and a little more.
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      stop.abort();
      await done;
    }
    assert.deepEqual(await remaining(), ours, 'published a moment ago: kept, however old they were when written');
  });

  test('a session that finds the checkpoint behind what this relay published (a crash lost the tail of its commits, or it was moved back) prunes nothing past it', async () => {
    // 5 rows written two hours ago. The relay publishes them and notes so; then, between two of its
    // sessions, the checkpoint goes back to the start: as after a database crash that lost the relay's
    // last commits (they do not wait for the WAL flush), which on the in-database bus are the bus rows
    // with the checkpoint. The relay's notes then say "published a retention ago" of rows that are not.
    const ours = await rows(300, 5, 2 * HOUR_MS);
    let down = false;
    // Not the in-database bus (no busPool): a publish that fails leaves the rows unpublished, so the
    // second session can prune while they wait for the broker.
    const broker: Transport = {
      ...transport,
      busPool: undefined,
      publish: async (messages) => {
        if (down) throw new Error('broker down');
        await transport.publish(messages);
      },
    };
    const retentionMs = 1000;
    const events: RelayEvent[] = [];
    const stop = new AbortController();
    const done = createRelay({ pool, service: 'delivery', transport: broker, retentionMs, pruneIntervalMs: 50, lockPollMs: 50, pollIntervalMs: 100, onProgress: (e) => events.push(e) }).run(stop.signal);
    const holder = await pool.connect();
    try {
      await waitFor('the relay publishes the 5 rows', () => events.some((e) => e.kind === 'published' && e.messages.length === 5), RELAY_MS);
      // Take the leader lock from the relay: queue for it, then cut the relay's session.
      const locked = holder.query('select pg_advisory_lock($1::int, hashtext($2))', [0x6f757462, 'brigade_outbox:delivery']);
      await waitFor('the lock is queued for', async () => (await pool.query(`select 1 from pg_locks where locktype = 'advisory' and classid = $1 and not granted`, [0x6f757462])).rowCount === 1);
      await pool.query(
        `select pg_terminate_backend(pid) from pg_locks
          where locktype = 'advisory' and classid = $1 and objsubid = 2 and granted and database = (select oid from pg_database where datname = current_database())`,
        [0x6f757462],
      );
      await locked;
      down = true;
      await pool.query(`update delivery.outbox_state set relayed_transaction_id = '0', relayed_id = 0`);
      // Past the retention of the relay's note, then the relay leads again from the start.
      await new Promise((resolve) => setTimeout(resolve, retentionMs + 200));
      const leaders = events.filter((e) => e.kind === 'leader').length;
      await holder.query('select pg_advisory_unlock($1::int, hashtext($2))', [0x6f757462, 'brigade_outbox:delivery']);
      await waitFor('the relay leads again', () => events.filter((e) => e.kind === 'leader').length > leaders, RELAY_MS);
      const from = events.length;
      // Passes every 50 ms while it fails to publish (backing off 100, 200, 400 ms between claims).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(events.slice(from).some((e) => e.kind === 'error' && /broker down/.test(String((e.error as Error).message))), 'the session tried to publish them');
      assert.deepEqual(await remaining(), ours, 'nothing unpublished was pruned');
      assert.deepEqual(events.slice(from).filter((e) => e.kind === 'pruned'), []);
      // Published again, they go a retention later.
      down = false;
      await waitFor('published again', () => events.slice(from).some((e) => e.kind === 'published' && e.messages.length === 5), RELAY_MS);
      await waitFor('pruned a retention after', async () => (await remaining()).length === 0, RELAY_MS);
    } finally {
      stop.abort();
      holder.release(true);
      await done;
    }
  });
});
