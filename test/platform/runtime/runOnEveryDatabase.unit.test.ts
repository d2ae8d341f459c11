import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { runOnEveryDatabase, type ServiceDeps, type ServiceWorker } from '../../../src/platform/runtime/index.ts';
import { eventually } from '../../support/eventually.ts';

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A promise and the function that resolves it. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/** Whether `promise` has settled, after letting pending callbacks run. */
const settled = async (promise: Promise<unknown>) => {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await settle();
  return done;
};

const A = 'postgres://db-a.example/tenant_a';
const B = 'postgres://db-b.example/tenant_b';

/**
 * Stand-ins for the process's dependencies: one shared pool, a pool per dedicated URL (labelled
 * `db1`, `db2` …: `labelOf` answers what `list` says), a placement catalog whose list the test changes (and can
 * make fail), and `onDatabase` handing out one pair of transaction functions per URL and service.
 */
function fakeDeps() {
  const shared = { name: 'shared' } as unknown as pg.Pool;
  const pools = new Map<string, pg.Pool>();
  const listed: Array<{ label: string; pool: pg.Pool }> = [{ label: 'main', pool: shared }];
  const catalog = { urls: [] as string[], reads: 0, failures: 0 };
  const on = new Map<string, { unitOfWork: ServiceDeps['unitOfWork']; commitStatements: ServiceDeps['commitStatements'] }>();
  const unused = () => Promise.reject(new Error('not used by these tests'));
  const deps = {
    transport: { name: 'transport' },
    unitOfWork: unused,
    commitStatements: unused,
    databases: {
      poolFor: () => shared,
      poolForUrl: (url: string) => {
        let pool = pools.get(url);
        if (pool === undefined) {
          pool = { name: url } as unknown as pg.Pool;
          pools.set(url, pool);
          listed.push({ label: `db${listed.length}`, pool });
        }
        return pool;
      },
      list: () => listed,
      labelOf: (pool: pg.Pool) => listed.find((entry) => entry.pool === pool)?.label,
      close: async () => undefined,
    },
    placements: {
      dedicatedDatabases: async () => {
        catalog.reads++;
        if (catalog.failures > 0) {
          catalog.failures--;
          throw new Error('catalog unreachable');
        }
        return [...catalog.urls];
      },
      findInEveryDatabase: unused,
      onDatabase: (url: string, service: string) => {
        const key = `${service} ${url}`;
        if (!on.has(key)) on.set(key, { unitOfWork: () => unused(), commitStatements: () => unused() });
        return on.get(key)!;
      },
    },
  } as unknown as ServiceDeps;
  return { deps, shared, pools, catalog, on };
}

/** A worker of ordering that notes each instance it runs; `behave` says what an instance does (default: run until stopped). */
function probeWorker(behave?: (deps: ServiceDeps, signal: AbortSignal, index: number) => Promise<void>) {
  const instances: Array<{ deps: ServiceDeps; signal: AbortSignal; stopped: boolean }> = [];
  const worker: ServiceWorker & { service: string } = {
    service: 'ordering',
    name: 'probe',
    everyDatabase: true,
    async run(deps, signal) {
      const instance = { deps, signal, stopped: false };
      instances.push(instance);
      try {
        await (behave === undefined ? aborted(signal) : behave(deps, signal, instances.length - 1));
      } finally {
        instance.stopped = true;
      }
    },
  };
  return { worker, instances };
}

/** Waits until the catalog has been read twice more: the second read started after the first one's list was acted on. */
const twoMoreReads = async (catalog: { reads: number }) => {
  const from = catalog.reads;
  await eventually('two more reads of the catalog', async () => catalog.reads, (n) => n >= from + 2);
};

describe('runOnEveryDatabase: one instance of a worker per database', () => {
  test('one instance starts at once with the given deps; one more within a poll of a database appearing, with deps of that database', async () => {
    const { deps, shared, pools, catalog, on } = fakeDeps();
    const { worker, instances } = probeWorker();
    const stop = new AbortController();
    const run = runOnEveryDatabase(worker, deps, stop.signal, { pollMs: 5 });
    assert.equal(instances.length, 1, 'the shared instance starts before the catalog is read');
    assert.equal(instances[0]!.deps, deps);

    await twoMoreReads(catalog);
    assert.equal(instances.length, 1);
    catalog.urls = [A];
    await twoMoreReads(catalog);
    assert.equal(instances.length, 2);
    const placed = instances[1]!.deps;
    assert.equal(placed.placement, 'db1', "the pool's label names the database");
    assert.equal(placed.databases.poolFor('ordering'), pools.get(A), "the worker's service uses the dedicated database's pool");
    assert.equal(placed.databases.poolFor('menu'), shared, 'other services keep theirs');
    assert.equal(placed.unitOfWork, on.get(`ordering ${A}`)!.unitOfWork, "transactions go through onDatabase(url, the worker's service)");
    assert.equal(placed.commitStatements, on.get(`ordering ${A}`)!.commitStatements);
    assert.equal(placed.transport, deps.transport, "everything else is the process's");
    assert.equal(placed.placements, deps.placements);
    assert.equal(deps.placement, undefined, 'the given deps are left as they are');

    stop.abort();
    await run;
  });

  test('a database is served by one instance however often the catalog lists it', async () => {
    const { deps, catalog, pools } = fakeDeps();
    const { worker, instances } = probeWorker();
    const stop = new AbortController();
    catalog.urls = [A];
    const run = runOnEveryDatabase(worker, deps, stop.signal, { pollMs: 5 });
    await twoMoreReads(catalog);
    await twoMoreReads(catalog);
    assert.equal(instances.length, 2);
    catalog.urls = [A, B];
    await twoMoreReads(catalog);
    await twoMoreReads(catalog);
    assert.deepEqual(
      instances.map((i) => i.deps.databases.poolFor('ordering')),
      [deps.databases.poolFor('ordering'), pools.get(A), pools.get(B)],
    );
    stop.abort();
    await run;
  });

  test('an abort stops every instance, and the run resolves once each has stopped', async () => {
    const { deps, catalog } = fakeDeps();
    const slow = gate();
    // The dedicated database's instance takes its time to stop.
    const { worker, instances } = probeWorker(async (_deps, signal, index) => {
      await aborted(signal);
      if (index === 1) await slow.opened;
    });
    const stop = new AbortController();
    catalog.urls = [A];
    const run = runOnEveryDatabase(worker, deps, stop.signal, { pollMs: 5 });
    await eventually('both instances', async () => instances.length, (n) => n === 2);
    stop.abort();
    assert.ok(instances.every((i) => i.signal.aborted), 'every instance is told to stop');
    assert.equal(await settled(run), false, 'the run waits for the instance still stopping');
    assert.deepEqual(instances.map((i) => i.stopped), [true, false]);
    slow.open();
    assert.equal(await run, undefined);
    assert.deepEqual(instances.map((i) => i.stopped), [true, true]);
  });

  test('a signal aborted before the run: the shared instance is started stopped and the catalog is not read', async () => {
    const { deps, catalog } = fakeDeps();
    const { worker, instances } = probeWorker();
    await runOnEveryDatabase(worker, deps, AbortSignal.abort(), { pollMs: 5 });
    assert.equal(instances.length, 1);
    assert.equal(instances[0]!.signal.aborted, true);
    assert.equal(catalog.reads, 0);
  });

  test('an instance that fails stops the others, and the run rejects with its error once they stopped', async () => {
    const { deps, catalog } = fakeDeps();
    const crash = gate();
    const sharedStops = gate();
    const boom = new Error('boom');
    const { worker, instances } = probeWorker(async (_deps, signal, index) => {
      if (index === 1) {
        await crash.opened;
        throw boom;
      }
      await aborted(signal);
      await sharedStops.opened;
    });
    const caller = new AbortController();
    catalog.urls = [A];
    const run = runOnEveryDatabase(worker, deps, caller.signal, { pollMs: 5 });
    run.catch(() => undefined);
    await eventually('both instances', async () => instances.length, (n) => n === 2);
    crash.open();
    await eventually('the shared instance told to stop', async () => instances[0]!.signal.aborted, (stopped) => stopped);
    assert.equal(caller.signal.aborted, false, "the caller's signal is the caller's");
    assert.equal(await settled(run), false, 'the run waits for the shared instance to stop');
    const readsWhenStopped = catalog.reads;
    sharedStops.open();
    await assert.rejects(run, (error) => error === boom);
    assert.equal(catalog.reads, readsWhenStopped, 'the catalog is not read after the stop');
  });

  test('a catalog that cannot be read is said once and read again; the run goes on', async () => {
    const { deps, catalog } = fakeDeps();
    const { worker, instances } = probeWorker();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const stop = new AbortController();
      catalog.urls = [A];
      catalog.failures = 3;
      const run = runOnEveryDatabase(worker, deps, stop.signal, { pollMs: 5 });
      await eventually('the dedicated instance', async () => instances.length, (n) => n === 2);
      assert.ok(catalog.reads >= 4);
      assert.equal(instances[1]!.deps.placement, 'db1');
      stop.abort();
      await run;
      await settle();
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('ordering/probe')),
        ['ordering/probe: catalog unreachable; retrying (it does not yet serve tenants moved since the last good read of the placement catalog)'],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});
