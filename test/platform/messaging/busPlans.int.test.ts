import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { purgeClaimChecksSql, purgeReleasedRefsSql } from '../../../src/platform/messaging/claimCheck/purgeClaimChecks.ts';
import { LIST_DEAD_LETTERS_SQL } from '../../../src/platform/messaging/deadLetters/listDeadLetters.ts';
import { redriveSelectSql } from '../../../src/platform/messaging/deadLetters/redriveDeadLetters.ts';
import { pruneFailuresSql } from '../../../src/platform/messaging/nats/pruneFailures.ts';
import { pruneBusSql } from '../../../src/platform/messaging/postgres/pruneBus.ts';
import { ACK_DELIVERIES_SQL } from '../../../src/platform/messaging/postgres/settleDelivery.ts';
import { START_DELIVERIES_SQL } from '../../../src/platform/messaging/postgres/startDeliveries.ts';
import { useTestDatabase } from '../../support/db.ts';

/**
 * The bus's maintenance and settle statements go through their indexes at any size, and never scan a
 * table: checked on tables of a few thousand rows that were never analysed (autovacuum off on them),
 * where the planner knows the least, with the exact statement text the code runs.
 */
describe('bus statements: index-served, no scan (unanalysed tables of a few thousand rows)', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let deliveryIds: string[] = [];
  let deadLetterId = '';

  before(async () => {
    pool = database.pool(2);
    const tables = ['subscriptions', 'messages', 'deliveries', 'dead_letters', 'claim_checks', 'claim_check_refs', 'failures'];
    for (const t of tables) await pool.query(`alter table brigade_bus.${t} set (autovacuum_enabled = off)`);
    await pool.query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ('plans', 'plans.>', '^plans\\.', 30000)`);
    // 6,000 messages over the last 100 minutes; half still have a delivery to settle.
    await pool.query(
      `insert into brigade_bus.messages (id, subject, key, headers, payload, published_at)
       select gen_random_uuid(), 'plans.x', 'k', '{}', '{"n": 1}', now() - g * interval '1 second' from generate_series(1, 6000) g`,
    );
    const { rows } = await pool.query<{ id: string }>(
      `insert into brigade_bus.deliveries (subscription, message_id, lease)
       select 'plans', id, gen_random_uuid() from brigade_bus.messages where published_at > now() - interval '50 minutes' returning id::text`,
    );
    deliveryIds = rows.map((r) => r.id);
    await pool.query(
      `insert into brigade_bus.claim_checks (sha256, payload, size_bytes, created_at)
       select md5(g::text) || md5(g::text), '{"big": true}', 13, now() - g * interval '1 second' from generate_series(1, 4000) g`,
    );
    await pool.query(`insert into brigade_bus.claim_check_refs (sha256, message_id, subscription) select sha256, gen_random_uuid(), 'plans' from brigade_bus.claim_checks where created_at > now() - interval '30 minutes'`);
    // References released over the last 100 minutes, a few per payload.
    await pool.query(
      `insert into brigade_bus.claim_check_refs (sha256, message_id, subscription, released_at)
       select sha256, gen_random_uuid(), 'plans-' || g, created_at + g * interval '1 second' from brigade_bus.claim_checks, generate_series(1, 2) g`,
    );
    const letters = await pool.query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       select gen_random_uuid(), 'plans-' || (g % 20), gen_random_uuid(), 'plans.x', 'k', '{}', '{}', 'boom', 5, now(), now() - g * interval '1 second', 'postgres'
       from generate_series(1, 4000) g returning id::text`,
    );
    deadLetterId = letters.rows[1234]!.id;
    // JetStream failures rows last written over the last 10 days.
    await pool.query(
      `insert into brigade_bus.failures (subscription, message_id, first_failed_at, last_failed_at)
       select 'plans-' || (g % 20), gen_random_uuid(), now() - g * interval '4 minutes', now() - g * interval '3 minutes' from generate_series(1, 4000) g`,
    );
    const analysed = await pool.query(
      `select relname from pg_stat_user_tables where schemaname = 'brigade_bus' and (last_analyze is not null or last_autoanalyze is not null)`,
    );
    assert.deepEqual(analysed.rows, [], 'the tables must not have been analysed');
  });

  const planOf = async (sql: string, values: unknown[]): Promise<string> => {
    const { rows } = await pool.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${sql}`, values);
    return JSON.stringify(rows[0]!['QUERY PLAN']);
  };

  test('the prune walks messages by published_at, probes deliveries per message, deletes by primary key', async () => {
    for (const cursor of ['-infinity', new Date(Date.now() - 3_600_000).toISOString()]) {
      const plan = await planOf(pruneBusSql(), [120_000, cursor, 1000]);
      assert.match(plan, /"Index Name":"messages_published_at_idx"/);
      assert.match(plan, /"Index Name":"deliveries_message_subscription"/);
      assert.match(plan, /"Index Name":"messages_pkey"/);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    }
    // The statement it replaced read both tables whole.
    const old = await planOf(
      `delete from brigade_bus.messages m
       where m.published_at < now() - make_interval(secs => $1::double precision / 1000)
         and not exists (select 1 from brigade_bus.deliveries d where d.message_id = m.id)`,
      [120_000],
    );
    assert.match(old, /"Node Type":"Seq Scan"/);
  });

  test('the claim-check purge walks payloads by created_at and probes references per payload', async () => {
    const plan = await planOf(purgeClaimChecksSql(), [3_600_000, '-infinity', 100]);
    assert.match(plan, /"Index Name":"claim_checks_created_at_idx"/);
    assert.match(plan, /"Index Name":"claim_check_refs_sha_idx"/);
    assert.match(plan, /"Index Name":"claim_checks_pkey"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    const old = await planOf(
      `delete from brigade_bus.claim_checks c
       where c.created_at < now() - make_interval(secs => $1::double precision / 1000)
         and not exists (select 1 from brigade_bus.claim_check_refs r where r.sha256 = c.sha256)`,
      [3_600_000],
    );
    assert.match(old, /"Node Type":"Seq Scan"/);
  });

  test('the released references\' purge walks them by released_at and deletes them by row address', async () => {
    for (const cursor of ['-infinity', new Date(Date.now() - 7_200_000).toISOString()]) {
      const plan = await planOf(purgeReleasedRefsSql(), [3_600_000, cursor, 100]);
      assert.match(plan, /"Index Name":"claim_check_refs_released_at_idx"/);
      assert.match(plan, /"Node Type":"Tid Scan"/);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    }
  });

  test('the failures prune walks rows by last_failed_at and deletes them by row address', async () => {
    for (const cursor of ['-infinity', new Date(Date.now() - 9 * 86_400_000).toISOString()]) {
      const plan = await planOf(pruneFailuresSql(), [7 * 86_400_000 + 3_600_000, cursor, 1000]);
      assert.match(plan, /"Index Name":"failures_last_failed_at_idx"/);
      assert.match(plan, /"Node Type":"Tid Scan"/);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    }
  });

  test('an ack batch finds its deliveries by primary key, whatever its size', async () => {
    for (const size of [1, 50, 500]) {
      const batch = deliveryIds.slice(0, size);
      const leases = batch.map(() => '00000000-0000-4000-8000-000000000000');
      const plan = await planOf(ACK_DELIVERIES_SQL, [batch, leases]);
      assert.match(plan, /"Index Name":"deliveries_pkey"/, `batch of ${size}`);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/, `batch of ${size}`);
    }
    const batch = deliveryIds.slice(0, 50);
    const leases = batch.map(() => '00000000-0000-4000-8000-000000000000');
    const old = await planOf(
      `delete from brigade_bus.deliveries d using unnest($1::bigint[], $2::uuid[]) as a(id, lease)
            where d.id = a.id and d.lease = a.lease returning d.id::text as id`,
      [batch, leases],
    );
    assert.match(old, /"Node Type":"Seq Scan"/, 'the join alone hashed a scan of the deliveries');
  });

  test('a start batch (counting the runs) finds its deliveries by primary key, whatever its size', async () => {
    for (const size of [1, 50, 500]) {
      const batch = deliveryIds.slice(0, size);
      const leases = batch.map(() => '00000000-0000-4000-8000-000000000000');
      const plan = await planOf(START_DELIVERIES_SQL, [batch, leases, 30000]);
      assert.match(plan, /"Index Name":"deliveries_pkey"/, `batch of ${size}`);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/, `batch of ${size}`);
    }
  });

  test('a redrive by id finds the dead letter by primary key', async () => {
    const plan = await planOf(redriveSelectSql(true), [deadLetterId]);
    assert.match(plan, /"Index Name":"dead_letters_pkey"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    const old = await planOf(
      `select d.id from brigade_bus.dead_letters d where d.id::text = $1 order by d.id for update skip locked`,
      [deadLetterId],
    );
    assert.match(old, /"Node Type":"Seq Scan"/, 'compared as text, every dead letter was read');
  });

  test('the dead-letter list of every subscription reads the newest failures from an index', async () => {
    const plan = await planOf(LIST_DEAD_LETTERS_SQL, [null, 100, null]);
    assert.match(plan, /"Index Name":"dead_letters_last_failed_at_idx"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    const one = await planOf(LIST_DEAD_LETTERS_SQL, ['plans-7', 100, null]);
    assert.match(one, /"Index Name":"dead_letters_subscription_idx"/);
    assert.doesNotMatch(one, /"Node Type":"Seq Scan"/);
  });

  test('a later page of the dead-letter list finds its cursor by primary key and reads on from it in the index', async () => {
    const plan = await planOf(LIST_DEAD_LETTERS_SQL, [null, 101, deadLetterId]);
    assert.match(plan, /"Index Name":"dead_letters_last_failed_at_idx"/);
    assert.match(plan, /"Index Name":"dead_letters_pkey"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    const one = await planOf(LIST_DEAD_LETTERS_SQL, ['plans-7', 101, deadLetterId]);
    assert.match(one, /"Index Name":"dead_letters_subscription_idx"/);
    assert.doesNotMatch(one, /"Node Type":"Seq Scan"/);
  });
});
