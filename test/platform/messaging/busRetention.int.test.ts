import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import {
  createPgTransport,
  ensureBusSchema,
  newMessageId,
  purgeClaimChecks,
  pruneBus,
  pruneFailures,
  runBusRetention,
  type BusRetentionEvent,
  type Transport,
} from '../../../src/platform/messaging/index.ts';
import { workersOf } from '../../../src/cli/runUntilSignal.ts';
import { SERVICES, SERVICE_NAMES } from '../../../src/composition/services.ts';
import { loadConfig } from '../../../src/platform/config/index.ts';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import { message, token, waitFor } from './support.ts';

/**
 * The bus retention (decision 0068): what goes (settled and past the window), what stays (a delivery
 * left, or too young), that it goes in bounded batches and stops between them on abort, and that the
 * loop the platform runs reports a failure and goes on instead of throwing.
 */
const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(4);
  transport = createPgTransport({ pool, pollIntervalMs: 200 });
  database.defer(() => transport.close());
});
// Each test counts what the retention deletes: it starts from an empty bus.
beforeEach(async () => {
  await pool.query('truncate brigade_bus.messages, brigade_bus.deliveries, brigade_bus.claim_checks, brigade_bus.claim_check_refs, brigade_bus.failures');
});

/** Writes `n` messages published `agoSeconds` ago; `pending` gives each a delivery of that subscription still to settle. */
async function messages(n: number, agoSeconds: number, pending?: { subscription: string }): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newMessageId());
  await pool.query(
    `insert into brigade_bus.messages (id, subject, key, headers, payload, published_at)
     select id, 'retention.test', 'k', '{}', '{}', now() - make_interval(secs => $2) from unnest($1::uuid[]) id`,
    [ids, agoSeconds],
  );
  if (pending) await pool.query(`insert into brigade_bus.deliveries (subscription, message_id) select $2, id from unnest($1::uuid[]) id`, [ids, pending.subscription]);
  return ids;
}

const remaining = async (ids: readonly string[]): Promise<number> =>
  (await pool.query<{ n: number }>('select count(*)::int as n from brigade_bus.messages where id = any($1::uuid[])', [ids])).rows[0]!.n;

describe('pruneBus', () => {
  test('deletes settled messages past the window in several bounded batches; keeps unsettled and recent ones', async () => {
    const sub = token();
    const settled = await messages(5, 600);
    const unsettled = await messages(3, 600, { subscription: sub });
    const recent = await messages(2, 10);
    const batches: number[] = [];
    const pruned = await pruneBus(pool, { olderThanMs: 120_000, batchSize: 2, onBatch: (n) => batches.push(n) });
    assert.equal(pruned, 5);
    // Two full batches, then one that was not full ended the run.
    assert.deepEqual(batches, [2, 2, 1]);
    assert.equal(await remaining(settled), 0);
    assert.equal(await remaining(unsettled), 3, 'a message a subscription has not settled stays, however old');
    assert.equal(await remaining(recent), 2, 'a message inside the dedupe window stays');
  });

  test('passes over unsettled messages between the batches without stalling on them', async () => {
    const sub = token();
    // Old unsettled messages older than the settled ones: each batch starts after the last one.
    const unsettled = await messages(4, 900, { subscription: sub });
    const settled = await messages(6, 600);
    const batches: number[] = [];
    assert.equal(await pruneBus(pool, { batchSize: 3, onBatch: (n) => batches.push(n) }), 6);
    assert.deepEqual(batches, [3, 3, 0]);
    assert.equal(await remaining(settled), 0);
    assert.equal(await remaining(unsettled), 4);
  });

  test('stops between batches when the signal aborts', async () => {
    const settled = await messages(6, 600);
    const stop = new AbortController();
    const batches: number[] = [];
    const pruned = await pruneBus(pool, {
      batchSize: 2,
      signal: stop.signal,
      onBatch: (n) => {
        batches.push(n);
        stop.abort();
      },
    });
    assert.equal(pruned, 2);
    assert.deepEqual(batches, [2]);
    assert.equal(await remaining(settled), 4);
    assert.equal(await pruneBus(pool, { signal: stop.signal }), 0, 'an aborted signal runs no batch at all');
  });

  test('a redelivered message counts as published again: the prune gives it a new dedupe window', async () => {
    const sub = token();
    await transport.ensureSubscription({ subscription: sub, pattern: 'retention.redrive.*' });
    const m = message('retention.redrive.x', { n: 1 });
    await transport.publish([m]);
    // Its delivery settled long ago (say it was dead-lettered): the message is old and settled.
    await pool.query(`update brigade_bus.messages set published_at = now() - interval '1 hour' where id = $1`, [m.id]);
    await pool.query('delete from brigade_bus.deliveries where message_id = $1', [m.id]);
    // The redrive writes the message again: a prune that read the old row before the redrive committed
    // rechecks the age on the row it locks, so the message must not look old any more.
    await transport.redeliver(sub, m);
    await pool.query('delete from brigade_bus.deliveries where message_id = $1', [m.id]);
    assert.equal(await pruneBus(pool), 0);
    assert.equal(await remaining([m.id]), 1);
    assert.equal(await pruneBus(pool, { olderThanMs: 0 }), 1);
  });
});

describe('purgeClaimChecks', () => {
  /** Stores `n` claim-checked payloads stored `agoSeconds` ago; `referenced` gives each a reference still to ack. */
  async function payloads(n: number, agoSeconds: number, referenced = false): Promise<string[]> {
    const shas = Array.from({ length: n }, () => createHash('sha256').update(newMessageId()).digest('hex'));
    await pool.query(
      `insert into brigade_bus.claim_checks (sha256, payload, size_bytes, created_at)
       select sha, '{"big": true}', 13, now() - make_interval(secs => $2) from unnest($1::text[]) sha`,
      [shas, agoSeconds],
    );
    if (referenced) await pool.query(`insert into brigade_bus.claim_check_refs (sha256, message_id, subscription) select sha, gen_random_uuid(), 'sub' from unnest($1::text[]) sha`, [shas]);
    return shas;
  }
  const stored = async (shas: readonly string[]) =>
    (await pool.query<{ n: number }>('select count(*)::int as n from brigade_bus.claim_checks where sha256 = any($1::text[])', [shas])).rows[0]!.n;

  test('deletes unreferenced payloads past the grace in bounded batches; keeps referenced and recent ones', async () => {
    const old = await payloads(5, 7200);
    const referenced = await payloads(2, 7200, true);
    const recent = await payloads(2, 60);
    const batches: number[] = [];
    assert.equal(await purgeClaimChecks(pool, { batchSize: 2, onBatch: (n) => batches.push(n) }), 5);
    assert.deepEqual(batches, [2, 2, 1]);
    assert.equal(await stored(old), 0);
    assert.equal(await stored(referenced), 2);
    assert.equal(await stored(recent), 2);
  });

  test('a released reference keeps nothing; it goes once released longer than the grace ago, an unreleased one stays', async () => {
    const [onlyReleased] = await payloads(1, 7200, true);
    await pool.query(`update brigade_bus.claim_check_refs set released_at = now() - interval '5 minutes' where sha256 = $1`, [onlyReleased]);
    // A payload published again and again (the same content under new ids) stays young; its old released references go.
    const [hot] = await payloads(1, 0, true);
    await pool.query(`update brigade_bus.claim_check_refs set released_at = now() - interval '2 hours' where sha256 = $1`, [hot]);
    await pool.query(`insert into brigade_bus.claim_check_refs (sha256, message_id, subscription, released_at) values ($1, gen_random_uuid(), 'sub', now() - interval '1 minute')`, [hot]);
    const [held] = await payloads(1, 7200, true);
    const refsOf = async (sha: string) =>
      (await pool.query<{ released: boolean }>('select released_at is not null as released from brigade_bus.claim_check_refs where sha256 = $1 order by released_at', [sha])).rows.map((r) => r.released);
    assert.equal(await purgeClaimChecks(pool), 1);
    assert.equal(await stored([onlyReleased!]), 0, 'released only: past the grace, it goes (its reference with it)');
    assert.deepEqual(await refsOf(onlyReleased!), []);
    assert.equal(await stored([hot!]), 1);
    assert.deepEqual(await refsOf(hot!), [true], 'the reference released two hours ago went, the one released a minute ago stays');
    assert.equal(await stored([held!]), 1);
    assert.deepEqual(await refsOf(held!), [false]);
  });
});

/** Writes `n` JetStream failures rows (subscription `subscription`) first failed `firstAgoSeconds` ago and last written `agoSeconds` ago. */
async function failures(n: number, agoSeconds: number, firstAgoSeconds = agoSeconds, subscription = 'retention-sub'): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newMessageId());
  await pool.query(
    `insert into brigade_bus.failures (subscription, message_id, first_failed_at, last_failed_at, last_error)
     select $2, id, now() - make_interval(secs => $4), now() - make_interval(secs => $3), 'boom' from unnest($1::uuid[]) id`,
    [ids, subscription, agoSeconds, firstAgoSeconds],
  );
  return ids;
}
const failuresLeft = async (ids: readonly string[]): Promise<number> =>
  (await pool.query<{ n: number }>('select count(*)::int as n from brigade_bus.failures where message_id = any($1::uuid[])', [ids])).rows[0]!.n;
const DAY_S = 24 * 3600;

describe('pruneFailures (decision 0016, "Fixed later: failures rows left behind are pruned")', () => {
  test('deletes failures rows last written longer ago than the stream\'s max_age and an hour, in bounded batches; keeps a row written again since, however old its first failure', async () => {
    // Left behind: the delete after a handled retry failed, the consumer was removed, or max_age dropped the message.
    const leftovers = await failures(5, 8 * DAY_S);
    // A message still being retried: first failed 8 days ago (a message published again under its id
    // shares the row), written again a minute ago by its latest failure.
    const inUse = await failures(2, 60, 8 * DAY_S);
    // Inside the window: max_age (7 days) and the hour's margin are not over.
    const young = await failures(2, 7 * DAY_S - 60);
    const batches: number[] = [];
    const pruned = await pruneFailures(pool, { batchSize: 2, onBatch: (n) => batches.push(n) });
    assert.equal(pruned, 5);
    assert.deepEqual(batches, [2, 2, 1]);
    assert.equal(await failuresLeft(leftovers), 0);
    assert.equal(await failuresLeft(inUse), 2, 'the rows a message in retry still writes stay');
    assert.equal(await failuresLeft(young), 2, 'rows inside max_age and the margin stay');
    // The stream's max_age is the setting: with one of a day, the 7-day-old rows go too.
    assert.equal(await pruneFailures(pool, { streamMaxAgeMs: DAY_S * 1000 }), 2);
    assert.equal(await failuresLeft(young), 0);
    assert.equal(await failuresLeft(inUse), 2);
  });

  test('a failure written while the prune holds the row makes it young again: the row is seen on the lock and kept', async () => {
    const [id] = await failures(1, 8 * DAY_S);
    // The transport's keepFailure, the same statement: it moves last_failed_at to now.
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(
        `insert into brigade_bus.failures (subscription, message_id, last_error) values ('retention-sub', $1, 'again')
         on conflict (subscription, message_id) do update set last_error = excluded.last_error, last_failed_at = now()`,
        [id],
      );
      // The prune skips the locked row now, and after the commit sees it young.
      assert.equal(await pruneFailures(pool), 0);
      await client.query('commit');
    } finally {
      client.release();
    }
    assert.equal(await pruneFailures(pool), 0);
    assert.equal(await failuresLeft([id!]), 1);
  });
});

describe('runBusRetention', () => {
  test('prunes and purges in batches, reports each pass, and resolves when the signal aborts', async () => {
    const settled = await messages(5, 600);
    const leftover = await failures(1, 8 * DAY_S);
    const kept = await messages(2, 600, { subscription: token() });
    const stop = new AbortController();
    const events: BusRetentionEvent[] = [];
    const running = runBusRetention({ pool, signal: stop.signal, batchSize: 2, intervalMs: 60_000, onProgress: (e) => events.push(e) });
    await waitFor('a pass', () => events.some((e) => e.kind === 'pass'));
    assert.deepEqual(
      events.filter((e) => e.kind === 'batch' && e.table === 'messages').map((e) => (e.kind === 'batch' ? e.deleted : -1)),
      [2, 2, 1],
    );
    assert.deepEqual(events.find((e) => e.kind === 'pass'), { kind: 'pass', messages: 5, claimChecks: 0, failures: 1 });
    assert.deepEqual(
      events.filter((e) => e.kind === 'batch' && e.table === 'failures').map((e) => (e.kind === 'batch' ? e.deleted : -1)),
      [1],
    );
    assert.equal(await failuresLeft(leftover), 0);
    assert.equal(await remaining(settled), 0);
    assert.equal(await remaining(kept), 2);
    // It waits a minute for the next pass; the abort ends that wait at once.
    stop.abort();
    await running;
  });

  test('brigade start and brigade worker run it: platform/bus-retention prunes the platform database and stops on abort', async () => {
    const worker = workersOf(SERVICES).find((w) => `${w.service}/${w.name}` === 'platform/bus-retention');
    assert.ok(worker, 'workersOf(SERVICES) lists platform/bus-retention');
    const settled = await messages(3, 600);
    const leftover = await failures(1, 8 * DAY_S);
    const recent = await failures(1, 6 * DAY_S);
    const asked: string[] = [];
    const deps = { config: loadConfig({}, { services: SERVICE_NAMES }), databases: { poolFor: (service: string) => (asked.push(service), pool) } } as unknown as ServiceDeps;
    const stop = new AbortController();
    const running = worker.run(deps, stop.signal);
    await waitFor('pruned by the worker', async () => (await remaining(settled)) === 0 && (await failuresLeft(leftover)) === 0);
    assert.equal(await failuresLeft(recent), 1, 'a failures row inside NATS_STREAM_MAX_AGE_MS (7 days by default) stays');
    stop.abort();
    await running;
    assert.deepEqual(asked, ['platform'], 'the bus is in the platform database');
  });

  test('a pass that fails is reported and retried, never thrown', async () => {
    // A pool on a database that does not exist: every pass fails.
    const broken = new pg.Pool({ connectionString: `${database.db.url}_missing`, max: 1 });
    const stop = new AbortController();
    const errors: unknown[] = [];
    try {
      const running = runBusRetention({ pool: broken, signal: stop.signal, intervalMs: 10, onProgress: (e) => e.kind === 'error' && errors.push(e.error) });
      await waitFor('two failed passes', () => errors.length >= 2);
      stop.abort();
      await running;
      assert.match(String(errors[0]), /does not exist/);
    } finally {
      await broken.end();
    }
  });
});

describe('ensureBusSchema', () => {
  test('makes the bus with exactly the indexes the platform migrations give it', async () => {
    const indexes = async (p: pg.Pool) =>
      (await p.query<{ d: string }>(`select indexname || ': ' || indexdef as d from pg_indexes where schemaname = 'brigade_bus' order by indexname`)).rows.map((r) => r.d);
    const empty = await createTestDatabase({ empty: true });
    const emptyPool = new pg.Pool({ connectionString: empty.url, max: 3 });
    try {
      // Three processes starting at once, as in pgTransport.int.test.ts.
      await Promise.all([ensureBusSchema(emptyPool), ensureBusSchema(emptyPool), ensureBusSchema(emptyPool)]);
      const made = await indexes(emptyPool);
      assert.deepEqual(made, await indexes(pool));
      assert.ok(made.some((d) => d.startsWith('messages_published_at_idx: ')));
      await ensureBusSchema(emptyPool);
      assert.deepEqual(await indexes(emptyPool), made, 'running it again changes nothing');
      // A bus on which an earlier version of ensureBusSchema built 0011's dropped index again.
      await emptyPool.query('create index deliveries_message_idx on brigade_bus.deliveries (message_id)');
      await ensureBusSchema(emptyPool);
      assert.deepEqual(await indexes(emptyPool), made, 'the index that 0011 dropped is dropped again');
    } finally {
      await emptyPool.end();
      await empty.drop();
    }
  });
});
