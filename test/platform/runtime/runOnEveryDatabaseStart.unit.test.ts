import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { databaseLabel } from '../../../src/platform/db/createDatabases.ts';
import { depsForDatabase, runOnEveryDatabase, type ServiceDeps, type ServiceWorker } from '../../../src/platform/runtime/index.ts';
import { within } from '../../support/eventually.ts';

const DEDICATED = 'postgres://owner@db-a.example/tenant_a?password=s3cret';

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/**
 * Stand-ins for the process's dependencies: one shared pool, a catalog that lists {@link DEDICATED},
 * pools that `poolForUrl` makes (or throws from, with `poolForUrl`), and no labels (`labelOf`).
 */
function fakeDeps(options: { poolForUrl?: (url: string) => pg.Pool } = {}): ServiceDeps {
  const shared = { name: 'shared' } as unknown as pg.Pool;
  const unused = () => Promise.reject(new Error('not used by these tests'));
  return {
    databases: {
      poolFor: () => shared,
      poolForUrl: options.poolForUrl ?? ((url: string) => ({ name: url }) as unknown as pg.Pool),
      list: () => [{ label: 'main', pool: shared }],
      labelOf: () => undefined,
      close: async () => undefined,
    },
    placements: {
      dedicatedDatabases: async () => [DEDICATED],
      findInEveryDatabase: unused,
      onDatabase: () => ({ unitOfWork: unused, commitStatements: unused }),
    },
  } as unknown as ServiceDeps;
}

/** A worker of ordering whose shared instance runs until stopped and whose dedicated one does `dedicated`. */
function worker(dedicated: (deps: ServiceDeps, signal: AbortSignal) => Promise<void>) {
  const shared = { started: false, stopped: false };
  const probe: ServiceWorker & { service: string } = {
    service: 'ordering',
    name: 'probe',
    everyDatabase: true,
    run: (deps, signal) => {
      if (deps.placement !== undefined) return dedicated(deps, signal);
      shared.started = true;
      return aborted(signal).then(() => void (shared.stopped = true));
    },
  };
  return { probe, shared };
}

describe('runOnEveryDatabase: an instance that cannot start fails the worker', () => {
  test('a run that throws at once (not a rejected promise) fails the worker with its error', async () => {
    const boom = new Error('invalid relay options');
    const { probe, shared } = worker(() => {
      throw boom;
    });
    const caller = new AbortController();
    // Before, the throw was taken for an unreadable catalog: the database was marked served and never was.
    const run = runOnEveryDatabase(probe, fakeDeps(), caller.signal, { pollMs: 5 });
    try {
      await assert.rejects(within(run, 10_000, 'the worker to fail'), (error) => error === boom);
      assert.deepEqual(shared, { started: true, stopped: true }, 'the shared instance was stopped');
    } finally {
      caller.abort();
      await run.catch(() => undefined);
    }
  });

  test("a dedicated instance's dependencies that cannot be made fail the worker with their error", async () => {
    const refused = new Error('no pool for this connection string');
    const { probe } = worker((_deps, signal) => aborted(signal));
    const deps = fakeDeps({
      poolForUrl: () => {
        throw refused;
      },
    });
    const caller = new AbortController();
    const run = runOnEveryDatabase(probe, deps, caller.signal, { pollMs: 5 });
    try {
      await assert.rejects(within(run, 10_000, 'the worker to fail'), (error) => error === refused);
    } finally {
      caller.abort();
      await run.catch(() => undefined);
    }
  });
});

test("depsForDatabase names a pool without a label by the database's stable label, never by a piece of its URL", () => {
  const placed = depsForDatabase(fakeDeps(), DEDICATED, 'ordering');
  assert.equal(placed.placement, databaseLabel(DEDICATED));
  assert.ok(!placed.placement.includes('s3cret') && !placed.placement.includes('tenant_a'), placed.placement);
});
