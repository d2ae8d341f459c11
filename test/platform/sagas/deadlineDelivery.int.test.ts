import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork, type Tx } from '../../../src/platform/db/index.ts';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import type { UnitOfWorkFn } from '../../../src/platform/tenancy/index.ts';
import { createDeadlineScheduler, createSagaRegistry, defineSaga, fireDueDeadlines, loadSaga, sagaWorkers, startSaga, type FiredDeadline, type SagaDecision, type SagaRegistry } from '../../../src/platform/sagas/index.ts';
import { transitionSaga } from '../../../src/platform/sagas/transitionSaga.ts';
import { useTestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';

const SERVICE = 'payments';

describe('deadline delivery: what passes is delivered later, what never can is marked and told', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let registry: SagaRegistry;
  let uow: UnitOfWorkFn;
  const timed = defineSaga<{ n: number }, { inMs: number }>({
    name: 'timed',
    initialState: { n: 0 },
    start: (_s, input) => ({ schedule: [{ name: 'a', inMs: input.inMs }, { name: 'b', inMs: input.inMs }] }),
    steps: {},
    on: {
      'deadline.a': (s) => ({ state: { n: s.n + 100 } }),
      'deadline.b': (s) => ({ state: { n: s.n + 1000 } }),
      'deadline.broken': () => {
        throw new Error('handler bug');
      },
      // A branch that forgot its `return`.
      'deadline.silent': () => undefined as unknown as SagaDecision<{ n: number }>,
      // A state JSON cannot hold: an amount in minor units as a BigInt, a cycle.
      'deadline.bigint': () => ({ state: { n: 10n } as unknown as { n: number } }),
      'deadline.cyclic': (s) => {
        const state: { n: number; self?: unknown } = { n: s.n };
        state.self = state;
        return { state };
      },
    },
  });
  before(() => {
    pool = database.pool(6);
    registry = createSagaRegistry({ schema: 'payments', sagas: [timed] });
    uow = (ctx, fn) => unitOfWork(pool, ctx, fn);
  });
  const asTenant = <T>(tenantId: string, fn: (tx: Tx) => Promise<T>) => uow({ service: SERVICE, tenantId, actor: { kind: 'system', id: 'test' } }, fn);
  const start = async (inMs: number) => {
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, registry, { name: 'timed', input: { inMs } }));
    return { tenantId, sagaId: instance.id };
  };
  const deadlines = async (sagaId: string) =>
    (await pool.query(`select name, fired_at is not null as fired, cancelled_at is not null as cancelled, error from payments.saga_deadlines where saga_id = $1 order by name`, [sagaId])).rows;
  const stateOf = async (tenantId: string, sagaId: string) => (await asTenant(tenantId, (tx) => loadSaga<{ n: number }>(tx, registry, sagaId)))?.state.n;

  test("two schedulers whose registries differ on one schema (a rolling deploy): each fires only its own saga types' deadlines; one that does not know the type leaves the deadline to the one that does (before: it fired it with 'No saga type … is registered', and the saga never got it)", async () => {
    const { tenantId, sagaId } = await start(0);
    const other = defineSaga<{ m: number }, null>({ name: 'other', initialState: { m: 0 }, start: () => ({}), steps: {}, on: {} });
    const registryWithout = createSagaRegistry({ schema: 'payments', sagas: [other] });
    const firedWithout: FiredDeadline[] = [];
    const without = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry: registryWithout, onFired: (d) => firedWithout.push(d) });
    await without.fireDue();
    assert.deepEqual(firedWithout.filter((d) => d.sagaId === sagaId), [], 'not claimed by the scheduler that does not know the type');
    assert.deepEqual(await deadlines(sagaId), [
      { name: 'a', fired: false, cancelled: false, error: null },
      { name: 'b', fired: false, cancelled: false, error: null },
    ], 'left open for the scheduler that knows the type');
    await assert.rejects(asTenant(tenantId, (tx) => transitionSaga(tx, registryWithout, sagaId, { kind: 'event', event: { type: 'deadline.a' } }, { tenantId })), { code: 'SAGA_TYPE_NOT_REGISTERED' });
    // Should its claim take them anyway (here: a registry that names the type without holding it), the delivery leaves them unfired.
    const claimsAnyway = { ...registryWithout, names: ['other', 'timed'] };
    assert.deepEqual((await asTenant(tenantId, (tx) => fireDueDeadlines(tx, claimsAnyway))).filter((d) => d.sagaId === sagaId), [], 'not reported as fired');
    assert.deepEqual((await deadlines(sagaId)).map((d) => [d.name, d.fired, d.error]), [['a', false, null], ['b', false, null]], 'still open');
    const fired: FiredDeadline[] = [];
    await createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry, onFired: (d) => fired.push(d) }).fireDue();
    assert.deepEqual(fired.filter((d) => d.sagaId === sagaId).map((d) => [d.name, d.applied, d.error]), [['a', true, null], ['b', true, null]]);
    assert.equal(await stateOf(tenantId, sagaId), 1100, 'both delivered to the saga');
  });

  test('a transient database error while delivering (a deadlock) rolls the batch back: the deadlines fire at the next poll (before: marked fired with the error, never delivered)', async () => {
    const { tenantId, sagaId } = await start(0);
    // The first saga write of the scheduler's transaction fails as a deadlock victim's does (SQLSTATE 40P01).
    let blinks = 1;
    const blinking: UnitOfWorkFn = (context, fn) =>
      uow(context, (tx) => {
        const query: Tx['query'] = (text, values) => {
          if (blinks > 0 && typeof text === 'string' && text.includes('with changed as')) {
            blinks--;
            return tx.query(`do $$ begin raise exception 'deadlock detected (test)' using errcode = '40P01'; end $$`);
          }
          return tx.query(text, values);
        };
        return fn(Object.assign(Object.create(tx) as Tx, { query }));
      });
    const fired: FiredDeadline[] = [];
    const scheduler = createDeadlineScheduler({ unitOfWork: blinking, service: SERVICE, registry, onFired: (d) => fired.push(d) });
    await assert.rejects(scheduler.fireDue(), { code: '40P01' });
    assert.deepEqual(await deadlines(sagaId), [
      { name: 'a', fired: false, cancelled: false, error: null },
      { name: 'b', fired: false, cancelled: false, error: null },
    ], 'left open for the next poll');
    assert.equal(await scheduler.fireDue(), 2);
    assert.deepEqual([fired.map((d) => [d.name, d.applied, d.error]), await stateOf(tenantId, sagaId)], [[['a', true, null], ['b', true, null]], 1100], 'both delivered');
  });

  test('a batch skips a deadline whose saga row another transaction holds, so an event that cancels deadlines after its saga write does not deadlock with it (before: each waited for the other, 40P01)', async () => {
    const { tenantId, sagaId } = await start(3_600_000);
    await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 s' where saga_id = $1`, [sagaId]);
    // What transitionSaga + writeDeadlines do for an event whose decision cancels deadline b: the saga row, then b.
    const other = await pool.connect();
    try {
      await other.query('begin');
      await other.query(`update payments.saga_instances set updated_at = now() where id = $1`, [sagaId]);
      const scheduler = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry });
      // The batch runs while the event transaction holds the saga row, before that transaction cancels b: it must skip
      // the saga, not wait for its row (before the fix it waited, and the cancel below then deadlocked with it).
      const fired = await within(scheduler.fireDue(), 30_000, 'the deadline batch, which skips a saga row another transaction holds');
      const cancel = await other.query(`update payments.saga_deadlines set cancelled_at = now() where saga_id = $1 and name = 'b' and fired_at is null and cancelled_at is null`, [sagaId]).then(
        (r) => `cancelled ${r.rowCount}`,
        (e: { code?: string; message?: string }) => `${e.code} ${e.message}`,
      );
      await other.query(cancel.startsWith('cancelled') ? 'commit' : 'rollback');
      assert.equal(cancel, 'cancelled 1', 'the event transaction went through');
      assert.equal(fired, 0, 'the deadlines of the saga being changed were left for the next poll');
    } finally {
      other.release();
    }
    assert.equal(await createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry }).fireDue(), 1);
    assert.deepEqual(await deadlines(sagaId), [
      { name: 'a', fired: true, cancelled: false, error: null },
      { name: 'b', fired: false, cancelled: true, error: null },
    ]);
    assert.equal(await stateOf(tenantId, sagaId), 100);
  });

  test('a deadline whose handler returns no decision (undefined) is marked fired with an error naming the saga and the handler; the other deadlines of its batch fire (before: the batch rolled back at every poll, and none of them ever fired)', async () => {
    const { tenantId, sagaId } = await start(0);
    // Due before a and b: it sorts first in the batch.
    await pool.query(`insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at) select tenant_id, id, 'silent', now() - interval '1 minute' from payments.saga_instances where id = $1`, [sagaId]);
    const fired: FiredDeadline[] = [];
    const scheduler = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry, onFired: (d) => fired.push(d) });
    assert.equal(await scheduler.fireDue(), 3);
    assert.equal(await stateOf(tenantId, sagaId), 1100, 'a and b were delivered');
    const silent = (await deadlines(sagaId)).find((d) => d.name === 'silent');
    assert.deepEqual([silent?.fired, silent?.cancelled], [true, false]);
    assert.match(silent?.error ?? '', /^The handler of "deadline\.silent" in saga timed returned undefined, not a decision/);
    assert.deepEqual(fired.map((d) => [d.name, d.applied, d.error === null]).sort(), [['a', true, true], ['b', true, true], ['silent', false, false]], 'told, as a deadline that cannot be delivered');
    assert.equal(await scheduler.fireDue(), 0, 'nothing left due');
  });

  test("a deadline whose handler returns a state JSON cannot hold (a BigInt, a cycle) is marked fired with an error naming the saga and the handler; the other deadlines of its batch and of other sagas fire (before: a plain TypeError rolled the batch back at every poll, and no deadline of the store fired again)", async () => {
    const { tenantId, sagaId } = await start(0);
    const other = await start(0);
    // Due before a and b of both sagas: they sort first in the batch.
    for (const name of ['bigint', 'cyclic']) {
      await pool.query(`insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at) select tenant_id, id, $2, now() - interval '1 minute' from payments.saga_instances where id = $1`, [sagaId, name]);
    }
    const fired: FiredDeadline[] = [];
    const scheduler = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry, onFired: (d) => fired.push(d) });
    assert.equal(await scheduler.fireDue(), 6);
    assert.deepEqual([await stateOf(tenantId, sagaId), await stateOf(other.tenantId, other.sagaId)], [1100, 1100], 'a and b were delivered to both sagas');
    const byName = new Map((await deadlines(sagaId)).map((d) => [d.name, d]));
    for (const name of ['bigint', 'cyclic']) {
      assert.deepEqual([byName.get(name)?.fired, byName.get(name)?.cancelled], [true, false], name);
      assert.match(byName.get(name)?.error ?? '', new RegExp(`^The handler of "deadline\\.${name}" in saga timed returned a state that cannot be stored as JSON: .*(BigInt|circular)`), name);
    }
    assert.deepEqual(fired.filter((d) => d.error !== null).map((d) => [d.name, d.applied]).sort(), [['bigint', false], ['cyclic', false]], 'told, as a deadline that cannot be delivered');
    assert.equal(await scheduler.fireDue(), 0, 'nothing left due');
  });

  test("a deadline whose handler throws is marked fired with the error, and the saga workers warn of it (before: told to no one)", async () => {
    const { sagaId } = await start(3_600_000);
    await pool.query(`insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at) select tenant_id, id, 'broken', now() - interval '1 s' from payments.saga_instances where id = $1`, [sagaId]);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const stop = new AbortController();
    try {
      const worker = sagaWorkers({ service: SERVICE, registry, deadlinePollMs: 20 }).find((w) => w.name === 'saga-deadlines')!;
      const running = worker.run({ unitOfWork: uow } as unknown as ServiceDeps, stop.signal);
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && !warnings.some((w) => w.includes(sagaId)); ) await sleep(20);
      stop.abort();
      await running;
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(warnings.some((w) => w.includes(`deadline broken of saga ${sagaId}`) && w.includes('handler bug')), JSON.stringify(warnings));
    const broken = (await deadlines(sagaId)).find((d) => d.name === 'broken');
    assert.deepEqual([broken?.fired, broken?.cancelled], [true, false]);
    assert.match(broken?.error ?? '', /SAGA_HANDLER_FAILED|handler bug/);
  });
});
