import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { createCache, createPgEvictionBus, EVICTION_CHANNEL, type Cache, type EvictionBusErrorContext, type PgEvictionBus } from '../../../src/platform/cache/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';
import { createProbe, deferred, metricValue, pausedRead, priceOf, type Probe } from './probe.ts';

/**
 * Memory mode across processes (no Redis): each "instance" is a pool, an eviction bus and a cache of
 * its own, as `createPlatform` builds them in each process, so that nothing reaches one from another
 * but PostgreSQL's NOTIFY (the in-process bus is not involved).
 */
describe('memory mode with the PostgreSQL eviction bus', () => {
  const database = useTestDatabase();
  let probe: Probe;
  let admin: pg.Pool;
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    probe = await createProbe(database.db.url, { setup: true });
    admin = new pg.Pool({ connectionString: database.db.url, max: 2 });
    database.defer(async () => {
      for (const close of closers.reverse()) await close();
      await admin.end();
      await probe.close();
    });
  });

  interface Instance {
    readonly name: string;
    readonly pool: pg.Pool;
    readonly bus: PgEvictionBus;
    readonly cache: Cache;
    readonly registry: client.Registry;
    readonly errors: EvictionBusErrorContext[];
  }
  /** One instance; `name` is its pool's application_name, by which its LISTEN session is found. */
  const instance = async (namespace: string, pool?: pg.Pool): Promise<Instance> => {
    const name = `cache-${randomUUID().slice(0, 8)}`;
    pool ??= new pg.Pool({ connectionString: database.db.url, max: 3, application_name: name });
    const errors: EvictionBusErrorContext[] = [];
    const bus = createPgEvictionBus({ pool, onError: (_e, context) => errors.push(context) });
    const registry = new client.Registry();
    const cache = createCache({ namespace, evictions: bus, registry, ttlSeconds: 3600 });
    closers.push(async () => {
      await cache.close();
      await bus.close();
      await pool.end();
    });
    await cache.ready();
    return { name, pool, bus, cache, registry, errors };
  };
  const read = (at: Instance, tenant: string) => at.cache.getOrLoad(tenant, probe.loader(tenant));
  /** Reads on `at` until it answers from its memory; returns that entry. */
  const cached = (at: Instance, tenant: string) =>
    eventually(
      `a read on ${at.name} answered from memory`,
      () => read(at, tenant),
      (entry) => entry.source === 'memory',
      20_000,
    );
  /** The LISTEN session of an instance, by its pool's application_name. */
  const listenSessions = async (name: string) =>
    (
      await admin.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and application_name = $1 and query ilike 'listen %'`, [name])
    ).rows.map((r) => r.pid);

  test('an eviction on one instance reaches the other through NOTIFY: it stops serving its copy', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const [a, b] = [await instance(namespace), await instance(namespace)];
    const tenant = randomUUID();
    await probe.writePrice(tenant, 100, []);
    assert.equal(priceOf(await cached(a, tenant)), 100);
    assert.equal(priceOf(await cached(b, tenant)), 100);

    for (let price = 101; price <= 110; price += 1) {
      const [writer, reader] = price % 2 === 0 ? [a, b] : [b, a];
      await probe.writePrice(tenant, price, [writer.cache]);
      // The writer's own copy is gone when evict() returns; the other's once the NOTIFY arrives.
      assert.equal(priceOf(await read(writer, tenant)), price);
      assert.equal(priceOf(await eventually(`${reader.name} to see ${price}`, () => read(reader, tenant), (e) => priceOf(e) === price, 20_000)), price);
      assert.equal(priceOf(await cached(reader, tenant)), price);
    }
    assert.ok((await metricValue(b.registry, 'brigade_cache_evictions_total', { origin: 'remote' })) >= 5);
    // One LISTEN connection per instance, and that is all it keeps.
    assert.equal((await listenSessions(a.name)).length, 1);
    assert.equal(a.pool.totalCount - a.pool.idleCount, 1);
  });

  test('a lost LISTEN: nothing cached is trusted until it is back, even with an eviction missed meanwhile (forced)', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const a = await instance(namespace);
    // B's pool: the test holds back its connections (so its LISTEN cannot come back) when it says.
    const name = `cache-${randomUUID().slice(0, 8)}`;
    const pool = new pg.Pool({ connectionString: database.db.url, max: 3, application_name: name });
    let gate: Promise<void> | null = null;
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    pool.connect = (async () => {
      await gate;
      return connect();
    }) as typeof pool.connect;
    const b = await instance(namespace, pool);
    const tenant = randomUUID();
    await probe.writePrice(tenant, 200, []);
    assert.equal(priceOf(await cached(b, tenant)), 200);
    // A load under way on B when its LISTEN goes: it must not store what it read.
    const other = randomUUID();
    const paused = pausedRead(b.cache, probe, other);
    await paused.selected;

    const held = deferred();
    gate = held.promise;
    const [pid] = await listenSessions(name);
    assert.ok(pid !== undefined, 'B listens');
    await admin.query('select pg_terminate_backend($1)', [pid]);
    await eventually('B to notice its LISTEN is gone', async () => b.bus.listening(), (listening) => !listening, 20_000);
    assert.ok(b.errors.some((e) => e.op === 'listen'), JSON.stringify(b.errors));

    // A change B cannot hear of: B must read it anyway, from the database, and store nothing.
    await probe.writePrice(tenant, 201, [a.cache]);
    for (let i = 0; i < 3; i += 1) {
      const entry = await read(b, tenant);
      assert.deepEqual([entry.source, priceOf(entry)], ['loader', 201], 'B served what it held while its LISTEN was down');
    }
    paused.release();
    await paused.result;

    // Back: B caches again, and hears evictions again.
    held.resolve();
    gate = null;
    await eventually('B to listen again', async () => b.bus.listening(), (listening) => listening, 20_000);
    assert.equal((await b.cache.getOrLoad(other, async () => 'fresh')).source, 'loader', 'the load under way when the LISTEN went was stored');
    assert.equal(priceOf(await cached(b, tenant)), 201);
    await probe.writePrice(tenant, 202, [a.cache]);
    await eventually('B to see 202', () => read(b, tenant), (e) => priceOf(e) === 202, 20_000);
  });

  test('evictions of more keys than one NOTIFY payload holds all arrive', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const [a, b] = [await instance(namespace), await instance(namespace)];
    // 40 keys of 500 characters: about 20 kB, over the 8000 bytes a NOTIFY payload may carry.
    const keys = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}${'k'.repeat(498)}`);
    for (const key of keys) await b.cache.getOrLoad(key, async () => 'old');
    await a.cache.evict(keys);
    await eventually(
      'every key evicted on B',
      () => Promise.all(keys.map((key) => b.cache.getOrLoad(key, async () => 'new'))),
      (entries) => entries.every((e) => e.body.toString() === 'new'),
      20_000,
    );
  });

  test('an eviction whose NOTIFY fails is sent again, and reaches the other instance without another eviction', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const name = `cache-${randomUUID().slice(0, 8)}`;
    const pool = new pg.Pool({ connectionString: database.db.url, max: 3, application_name: name });
    let refuse = false;
    const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
    pool.query = (async (text: string, values?: unknown[]) => {
      if (refuse && text.includes('pg_notify')) throw new Error('the database refused the NOTIFY');
      return query(text, values);
    }) as typeof pool.query;
    const [a, b] = [await instance(namespace, pool), await instance(namespace)];
    const tenant = randomUUID();
    await probe.writePrice(tenant, 300, []);
    assert.equal(priceOf(await cached(b, tenant)), 300);
    refuse = true;
    await probe.writePrice(tenant, 301, [a.cache]);
    assert.ok(a.errors.some((e) => e.op === 'notify'), JSON.stringify(a.errors));
    assert.equal(priceOf(await read(b, tenant)), 300, 'the NOTIFY was refused: B still holds 300');
    refuse = false;
    await eventually('B to see 301', () => read(b, tenant), (e) => priceOf(e) === 301, 20_000);
  });

  test('a NOTIFY on the channel that the bus did not send is ignored', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const b = await instance(namespace);
    await b.cache.getOrLoad('k', async () => 'v');
    for (const payload of ['not json', '{"n": 1}', JSON.stringify({ b: 'x', n: namespace, k: 'k' })]) await admin.query('select pg_notify($1, $2)', [EVICTION_CHANNEL, payload]);
    await admin.query('select pg_notify($1, $2)', [EVICTION_CHANNEL, JSON.stringify({ b: 'x', n: namespace, k: ['other'] })]);
    await eventually('the well-formed one to arrive', () => metricValue(b.registry, 'brigade_cache_evictions_total', { origin: 'remote' }), (n) => n === 1, 20_000);
    assert.equal((await b.cache.getOrLoad('k', async () => 'w')).source, 'memory');
    assert.ok(b.bus.listening());
  });
});
