import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { configureGroupCommit, createDatabases, type Databases, type Statement, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { ConcurrencyError } from '../../../src/platform/errors/index.ts';
import type { AppendResult } from '../../../src/platform/events/index.ts';
import { createTenantRouter, type TenantRouter } from '../../../src/platform/tenancy/index.ts';
import { createOrderStore } from '../../../src/services/ordering/orderStore.ts';
import { useTestDatabase } from '../../support/db.ts';

describe('event store: appends merged by the group committer (decision 0063)', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  let pool: pg.Pool;
  let admin: pg.Pool;
  let router: TenantRouter;
  const store = createOrderStore();
  /** The statement names of every batch sent on the ordering pool. */
  const sent: string[][] = [];

  before(() => {
    dbs = createDatabases({ url: database.db.url, poolSize: 4 });
    database.defer(() => dbs.close());
    router = createTenantRouter({ databases: dbs });
    pool = dbs.poolFor('ordering');
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
        const statements = (config as { statements?: readonly Statement[] }).statements;
        if (statements !== undefined) sent.push(statements.map((s) => s.name ?? s.text));
        return query(config, ...rest);
      };
    });
    admin = database.pool(1);
  });

  // Staff of each restaurant: a customer or a courier appends only to the streams of their own orders
  // (ordering migration 0042, merged or not), and these streams are in no order index.
  const as = (tenantId: string): UnitOfWorkContext => ({ service: 'ordering', tenantId, actor: { kind: 'staff', id: randomUUID() } });
  /** Holds the pool's only batch in flight for a moment, so that the units sent next wait and go together. */
  const hold = () => {
    configureGroupCommit(pool, { maxInFlight: 1 });
    return router.commitStatements({ service: 'ordering' }, [{ text: 'select pg_sleep(0.05)' }]);
  };
  const append = (tenantId: string, stream: string, types: string[], expected: number) =>
    store.appendAndCommit(router.commitStatements, as(tenantId), stream, types.map((type) => ({ type, data: { stream, type } })), expected);

  test('units that wait append as ONE statement, each to its own tenant, with its outbox rows and its own result', async () => {
    // One tenant id in upper case, as a context may carry it: that unit runs unmerged, and still in the batch's transaction.
    const tenants = Array.from({ length: 8 }, (_, i) => (i === 4 ? randomUUID().toUpperCase() : randomUUID()));
    const streams = tenants.map(() => `order-${randomUUID()}`);
    // Two streams already have events, so their appends check a version other than 0.
    await append(tenants[0]!, streams[0]!, ['OrderPlaced'], 0);
    await append(tenants[1]!, streams[1]!, ['OrderPlaced', 'OrderAccepted'], 0);
    const blocker = hold();
    sent.length = 0;
    const expected = [1, 2, 0, 0, 0, 0, 0, 0];
    const types = (i: number) => (i % 3 === 2 ? ['OrderPlaced', 'OrderAccepted', 'OrderReady'] : ['OrderReady']);
    const appends = tenants.map((tenant, i) => append(tenant, streams[i]!, types(i), expected[i]!));
    await blocker;
    const results: AppendResult[] = await Promise.all(appends);

    const merged = sent.filter((names) => names.some((n) => n.startsWith('brigade_merged_append_ordering_')));
    assert.equal(merged.length, 1, `one merged batch, sent: ${JSON.stringify(sent)}`);
    assert.deepEqual(merged[0]!.map((n) => n.replace(/_[0-9a-f]{12}$/, '')), [
      ...['brigade_settings', 'brigade_enter_tenant', 'brigade_append_ordering'], // the upper-case tenant's unit, alone
      ...['brigade_batch_settings', 'brigade_enter_tenants', 'brigade_merged_append_ordering'], // the other seven
    ]);

    results.forEach((result, i) => {
      assert.equal(result.nextExpectedVersion, expected[i]! + types(i).length);
      assert.deepEqual(result.events.map((e) => [e.streamId, e.streamVersion, e.type, e.metadata.tenantId.toLowerCase()]), types(i).map((type, k) => [streams[i], expected[i]! + k + 1, type, tenants[i]!.toLowerCase()]));
    });
    const positions = results.flatMap((r) => r.events.map((e) => e.globalPosition));
    assert.equal(new Set(positions.map((p) => p.transactionId)).size, 1, 'one transaction');
    assert.equal(new Set(positions.map((p) => p.position)).size, positions.length, 'a position per event');

    const stored = await admin.query<{ tenant_id: string; stream_id: string; stream_version: string; message_id: string; position: string }>(
      `select tenant_id::text, stream_id, stream_version::text, message_id::text, global_position::text as position from ordering.events where stream_id = any($1) order by stream_id, stream_version`,
      [streams],
    );
    for (const [i, result] of results.entries()) {
      for (const e of result.events) {
        const row = stored.rows.find((r) => r.stream_id === streams[i] && Number(r.stream_version) === e.streamVersion);
        assert.deepEqual([row?.tenant_id, row?.message_id, row?.position], [tenants[i]!.toLowerCase(), e.metadata.messageId, String(e.globalPosition.position)]);
      }
    }
    const outbox = await admin.query<{ message_id: string; subject: string; aggregate_key: string; tenant: string; lineage: string }>(
      `select message_id::text, subject, aggregate_key, headers ->> 'tenant' as tenant,
              concat_ws(' ', headers ->> 'source', headers ->> 'actor', headers ->> 'schema-version') as lineage
         from ordering.outbox where aggregate_key = any($1) order by id`,
      [streams],
    );
    const lineageOf = new Map(results.flatMap((r) => r.events.map((e) => [e.metadata.messageId, `ordering ${e.metadata.actor!.kind}:${e.metadata.actor!.id} ${e.schemaVersion}`])));
    assert.deepEqual(
      outbox.rows.map((r) => r.lineage),
      outbox.rows.map((r) => lineageOf.get(r.message_id) ?? r.lineage),
      'every row, merged or not, names its source, its event\'s actor and schema version',
    );
    assert.ok(outbox.rows.slice(3).every((r) => lineageOf.has(r.message_id)));
    const appended = results.flatMap((r, i) => r.events.map((e) => [e.metadata.messageId, `ordering.order.${e.type}`, streams[i], tenants[i]]));
    const earlier = 3; // the three events appended before the merged batch
    const byMessage = (rows: unknown[][]) => [...rows].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(byMessage(outbox.rows.slice(earlier).map((r) => [r.message_id, r.subject, r.aggregate_key, r.tenant])), byMessage(appended), 'the outbox rows, each tenant as its context gave it');
    const mergedOnly = outbox.rows.slice(earlier).filter((r) => r.aggregate_key !== streams[4]);
    assert.deepEqual(mergedOnly.map((r) => r.message_id), appended.filter((a) => a[2] !== streams[4]).map((a) => a[0]), 'the merged units\' rows in append order');
  });

  test('a stale expected version among merged units: that unit alone gets ConcurrencyError, the others commit merged', async () => {
    const tenants = Array.from({ length: 6 }, () => randomUUID());
    const streams = tenants.map(() => `order-${randomUUID()}`);
    await append(tenants[3]!, streams[3]!, ['OrderPlaced'], 0);
    const blocker = hold();
    sent.length = 0;
    // Unit 3 still believes its stream is new.
    const outcomes = await Promise.allSettled(tenants.map((tenant, i) => append(tenant, streams[i]!, ['OrderPlaced'], 0)));
    await blocker;
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    const error = (outcomes[3] as PromiseRejectedResult).reason as ConcurrencyError;
    assert.ok(error instanceof ConcurrencyError);
    assert.equal(error.code, 'CONCURRENCY_CONFLICT');
    const versions = await admin.query<{ stream_id: string; n: number }>('select stream_id, count(*)::int as n from ordering.events where stream_id = any($1) group by 1', [streams]);
    assert.deepEqual(
      streams.map((s) => versions.rows.find((r) => r.stream_id === s)?.n),
      [1, 1, 1, 1, 1, 1],
      'the refused unit wrote nothing',
    );
    const unmerged = sent.filter((names) => names.includes('brigade_enter_tenant'));
    assert.ok(unmerged.length > 0, 'the units ran again unmerged');
  });

  test('two units appending to one new stream in one batch: exactly one wins', async () => {
    const tenant = randomUUID();
    const stream = `order-${randomUUID()}`;
    const others = Array.from({ length: 3 }, () => [randomUUID(), `order-${randomUUID()}`] as const);
    const blocker = hold();
    const outcomes = await Promise.allSettled([
      append(tenant, stream, ['OrderPlaced'], 0),
      ...others.map(([t, s]) => append(t, s, ['OrderPlaced'], 0)),
      append(tenant, stream, ['OrderPlaced'], 0),
    ]);
    await blocker;
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    assert.ok((outcomes[4] as PromiseRejectedResult).reason instanceof ConcurrencyError);
    const n = await admin.query<{ n: number }>('select count(*)::int as n from ordering.events where stream_id = $1', [stream]);
    assert.equal(n.rows[0]!.n, 1);
  });

  test("customers' and couriers' units merge and still append only to their own orders: an append to another's fails alone", async () => {
    // Each unit's own order at a restaurant of its own, in the order index (as placement writes it): a
    // customer's, and a courier's assigned to them.
    const units = Array.from({ length: 6 }, (_, i) => ({ tenant: randomUUID(), order: randomUUID(), actor: { kind: i % 2 === 0 ? 'customer' : 'courier', id: randomUUID() } as const }));
    for (const u of units) {
      const [customerId, courierId] = u.actor.kind === 'customer' ? [u.actor.id, null] : [randomUUID(), u.actor.id];
      await admin.query(`insert into ordering.order_index (tenant_id, order_id, customer_id, courier_id) values ($1, $2, $3, $4)`, [u.tenant, u.order, customerId, courierId]);
    }
    const appendAs = (u: (typeof units)[number], order: string) =>
      store.appendAndCommit(router.commitStatements, { service: 'ordering', tenantId: u.tenant, actor: u.actor }, `order-${order}`, [{ type: 'OrderPlaced', data: {} }], 'any');
    const mergedBatches = () => sent.filter((names) => names.some((n) => n.startsWith('brigade_merged_append_ordering_')));

    let blocker = hold();
    sent.length = 0;
    const own = await Promise.allSettled(units.map((u) => appendAs(u, u.order)));
    await blocker;
    assert.deepEqual(own.map((o) => (o.status === 'fulfilled' ? 'ok' : String(o.reason))), units.map(() => 'ok'));
    assert.equal(mergedBatches().length, 1, `merged, and the merged statement found each row's order in the index: ${JSON.stringify(sent)}`);
    assert.equal(sent.filter((names) => names.includes('brigade_enter_tenant')).length, 0, 'nothing ran again unmerged');

    // Unit 2's customer, at unit 4's restaurant, appends to another customer's order there: the merged
    // statement refuses that row, and the group runs again unmerged, where only unit 2 fails.
    const victim = randomUUID();
    await admin.query(`insert into ordering.order_index (tenant_id, order_id, customer_id) values ($1, $2, $3)`, [units[4]!.tenant, victim, randomUUID()]);
    const intruder = { ...units[2]!, tenant: units[4]!.tenant };
    blocker = hold();
    sent.length = 0;
    const outcomes = await Promise.allSettled(units.map((u, i) => (i === 2 ? appendAs(intruder, victim) : appendAs(u, u.order))));
    await blocker;
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    assert.equal(((outcomes[2] as PromiseRejectedResult).reason as { code?: string }).code, '42501');
    // Merged first; refused there (an accepted merged batch runs nothing again), so the group ran again
    // unmerged, and the units before and after unit 2 merged once more around its own transaction.
    const firstMerged = sent.findIndex((names) => names.some((n) => n.startsWith('brigade_merged_append_ordering_')));
    const firstUnmerged = sent.findIndex((names) => names.includes('brigade_enter_tenant'));
    assert.ok(firstMerged >= 0 && firstUnmerged > firstMerged, JSON.stringify(sent));
    const n = await admin.query<{ n: number }>(`select count(*)::int as n from ordering.events where stream_id = $1`, [`order-${victim}`]);
    assert.equal(n.rows[0]!.n, 0);
  });

  test('the batch tenants admit nothing outside a fenced batch, and the fence takes exactly the batch tenants', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const client = await pool.connect();
    const run = async (sql: string, values: unknown[] = []) => {
      await client.query('begin');
      try {
        await client.query(`select set_config('role', 'brigade_ordering', true)`);
        return await client.query(sql, values);
      } finally {
        await client.query('rollback');
      }
    };
    const code = (promise: Promise<unknown>) => promise.then(() => 'ok', (e: { code?: string }) => e.code);
    const insert = `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata) values ($1, 'order-x', 1, gen_random_uuid(), 'T', '{}', '{}')`;
    try {
      assert.equal(await code(run(insert, [a])), '42501', 'no tenant, no batch: refused');
      const batch = (tenants: string[]) => `select set_config('brigade.batch_tenants', '${tenants.join(',')}', true)`;
      const fenced = async (tenants: string[], fence: string[], extra = '') => {
        await client.query('begin');
        try {
          await client.query(`select set_config('role', 'brigade_ordering', true)`);
          await client.query(batch(tenants));
          if (extra !== '') await client.query(extra);
          await client.query('select platform.enter_tenants($1::uuid[], $2::text[])', [fence, fence.map(() => '')]);
          return 'ok';
        } catch (error) {
          return (error as { code?: string }).code;
        } finally {
          await client.query('rollback');
        }
      };
      assert.equal(await fenced([a, b], [a, b]), 'ok');
      assert.equal(await fenced([a, b], [a]), '42501', 'a batch tenant left unfenced');
      assert.equal(await fenced([a], [a, b]), '42501', 'a tenant not of the batch');
      assert.equal(await fenced([a], [a], `select set_config('brigade.tenant_id', '${a}', true)`), '42501', 'a transaction with a tenant of its own');
      await client.query('begin');
      try {
        await client.query(`select set_config('role', 'brigade_ordering', true)`);
        await client.query(batch([a]));
        await client.query(insert, [a]);
        assert.equal(await code(client.query(insert.replace("'order-x'", "'order-y'"), [b])), '42501', 'a tenant outside the batch');
      } finally {
        await client.query('rollback');
      }
      await admin.query(
        `with c as (insert into platform.cities (name) values ($2) returning id), r as (insert into platform.restaurants (id, city_id, name) select $1, id, 'Moved' from c)
         insert into platform.tenant_placements (tenant_id, database_url) values ($1, 'postgres://elsewhere/db')`,
        [b, `City ${b}`],
      );
      assert.equal(await fenced([a, b], [a, b]), 'BRMOV', 'a batch tenant that moved');
    } finally {
      client.release();
    }
  });
});
