import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { advanceSaga, createSagaRegistry, createSagaRunner, defineSaga, sagaFailedStepsSql, sagaLogSchemaSql, sagaParkedSql, sagaSchemaSql, startSaga } from '../../../src/platform/sagas/index.ts';
import type { UnitOfWorkFn } from '../../../src/platform/tenancy/index.ts';
import { FLOW_MS, within } from '../../support/eventually.ts';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import { watchForIdle } from '../../support/watchForIdle.ts';

/** A saga store of this file's own, so no other test's announcements reach its runners. */
const SCHEMA = 'saga_wakeups';

describe('an idle saga runner wakes when this process makes a step due', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const ran = new Map<string, () => void>();
  const saga = defineSaga<{ id: string }, { id: string; waitFor?: string }>({
    name: 'wake',
    initialState: { id: '' },
    // Runs its step at once, or only once the event it waits for arrives.
    start: (s, input) => ({ state: { ...s, id: input.id }, run: input.waitFor === undefined ? ['step'] : [] }),
    steps: { step: { action: async (ctx) => (ran.get(ctx.state.id)?.(), null) } },
    on: { go: () => ({ run: ['step'] }), 'step.succeeded': () => ({ complete: true }) },
  });
  const registry = createSagaRegistry({ schema: SCHEMA, sagas: [saga] });

  before(async () => {
    pool = database.pool(6);
    await pool.query(`create schema ${SCHEMA}; grant usage on schema ${SCHEMA} to brigade_payments`);
    for (const sql of [sagaSchemaSql, sagaLogSchemaSql, sagaParkedSql, sagaFailedStepsSql]) await pool.query(sql({ schema: SCHEMA, role: 'brigade_payments' }));
  });

  /**
   * A runner whose idle poll is far longer than any wait below, started and left idle: resolves once its
   * first claim found nothing (it then waits, in the same turn of the event loop), with the runner's
   * `run` promise (in an object: an async function's returned promise would be waited for).
   */
  const idleRunner = async (signal: AbortSignal, on: { pool: pg.Pool; database?: string } = { pool }) => {
    const { unitOfWork: uow, wentIdle } = watchForIdle(on.pool, (claimed) => claimed === null);
    const running = createSagaRunner({ unitOfWork: uow, service: 'payments', registry, pollMs: 10 * FLOW_MS, ...(on.database === undefined ? {} : { database: on.database }) }).run(signal);
    await within(wentIdle, 30_000, 'the runner\'s first, empty claim');
    return { running };
  };
  const stepRan = (id: string) => new Promise<void>((resolve) => ran.set(id, resolve));
  const asTenant: UnitOfWorkFn = (context, fn) => unitOfWork(pool, context, fn);
  const context = (tenantId: string) => ({ service: 'payments', tenantId, actor: { kind: 'system', id: 'test' } }) as const;

  test('a started saga\'s first step runs at once, not at the next poll', async () => {
    const stop = new AbortController();
    const { running } = await idleRunner(stop.signal);
    try {
      const id = randomUUID();
      const step = stepRan(id);
      await asTenant(context(randomUUID()), (tx) => startSaga(tx, registry, { name: 'wake', id, input: { id } }));
      await within(step, 30_000, 'the step, woken by the start');
    } finally {
      stop.abort();
      await running;
    }
  });

  test('an event that makes a step due wakes the runner too', async () => {
    const stop = new AbortController();
    const tenantId = randomUUID();
    const id = randomUUID();
    await asTenant(context(tenantId), (tx) => startSaga(tx, registry, { name: 'wake', id, input: { id, waitFor: 'go' } }));
    const { running } = await idleRunner(stop.signal);
    try {
      const step = stepRan(id);
      const { applied } = await asTenant(context(tenantId), (tx) => advanceSaga(tx, registry, id, { type: 'go' }, { tenantId }));
      assert.equal(applied, true);
      await within(step, 30_000, 'the step, woken by the event');
    } finally {
      stop.abort();
      await running;
    }
  });

  test("a step made due in a tenant's dedicated database wakes that database's runner, though the shared one waited longer", async () => {
    // The same store in a second database, as after a move (decision 0008): one runner per database.
    const dedicated = await createTestDatabase();
    database.defer(() => dedicated.drop());
    const dedicatedPool = new pg.Pool({ connectionString: dedicated.url, max: 3 });
    database.defer(() => dedicatedPool.end());
    await dedicatedPool.query(`create schema ${SCHEMA}; grant usage on schema ${SCHEMA} to brigade_payments`);
    for (const sql of [sagaSchemaSql, sagaLogSchemaSql, sagaParkedSql, sagaFailedStepsSql]) await dedicatedPool.query(sql({ schema: SCHEMA, role: 'brigade_payments' }));
    const stop = new AbortController();
    const shared = await idleRunner(stop.signal);
    const placed = await idleRunner(stop.signal, { pool: dedicatedPool, database: 'db-dedicated' });
    try {
      const id = randomUUID();
      const step = stepRan(id);
      await unitOfWork(dedicatedPool, context(randomUUID()), (tx) => startSaga(tx, registry, { name: 'wake', id, input: { id } }));
      // Before, the announcement woke the runner that had waited longest, the shared database's, whose
      // claim found nothing there; the dedicated database's runner slept until its poll.
      await within(step, 30_000, "the step, woken by the start in the dedicated database");
    } finally {
      stop.abort();
      await Promise.all([shared.running, placed.running]);
    }
  });
});
