import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { clientTx, unitOfWork, type Tx } from '../../../src/platform/db/index.ts';
import type { UnitOfWorkFn } from '../../../src/platform/tenancy/index.ts';
import {
  advanceSaga,
  closeSaga,
  createDeadlineScheduler,
  createSagaRegistry,
  createSagaRunner,
  defineSaga,
  listSagas,
  listSagaTenants,
  loadSaga,
  resumeSaga,
  settleSagaCompensation,
  showSaga,
  startSaga,
  type SagaDecision,
  type SagaRegistry,
} from '../../../src/platform/sagas/index.ts';
import { claimSagaWork } from '../../../src/platform/sagas/claimSagaWork.ts';
import { transitionSaga } from '../../../src/platform/sagas/transitionSaga.ts';
import { repoRoot } from '../../support/cli.ts';
import { scriptRun } from '../../support/scriptRun.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually, within } from '../../support/eventually.ts';
import { unansweredServer } from '../../support/unansweredServer.ts';
import { TOY_TABLES, toySaga, type ToyInput, type ToyState } from './toySaga.ts';

const SERVICE = 'payments';

describe('saga runtime (toy saga on the payments schema)', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let registry: SagaRegistry;
  let uow: UnitOfWorkFn;
  before(async () => {
    pool = database.pool(6);
    await pool.query(TOY_TABLES);
    registry = createSagaRegistry({ schema: 'payments', sagas: [toySaga(pool)] });
    uow = (ctx, fn) => unitOfWork(pool, ctx, fn);
  });

  const asTenant = <T>(tenantId: string, fn: (tx: Tx) => Promise<T>) => uow({ service: SERVICE, tenantId, actor: { kind: 'system', id: 'test' } }, fn);
  const start = async (input: ToyInput) => {
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga<ToyState, ToyInput>(tx, registry, { name: 'toy', input }));
    return { tenantId, sagaId: instance.id };
  };
  const load = (tenantId: string, sagaId: string) => asTenant(tenantId, (tx) => loadSaga<ToyState>(tx, registry, sagaId));
  const runner = (extra: Partial<Parameters<typeof createSagaRunner>[0]> = {}) => createSagaRunner({ unitOfWork: uow, service: SERVICE, registry, backoffMs: () => 0, ...extra });
  const drain = async (r = runner()) => {
    while (await r.runOnce());
  };
  const rows = async (table: 'toy_attempts' | 'toy_effects', sagaId: string) =>
    (await pool.query(`select step, key from public.${table} where saga_id = $1 order by ${table === 'toy_effects' ? 'seq' : 'id'}`, [sagaId])).rows as Array<{ step: string; key: string }>;

  test('steps run in order, each with the key ${sagaId}:${step}, and the saga completes', async () => {
    const { tenantId, sagaId } = await start({});
    await drain();
    const saga = await load(tenantId, sagaId);
    assert.equal(saga?.status, 'completed');
    assert.deepEqual(saga?.completed, ['a', 'b', 'c']);
    assert.deepEqual(saga?.state.log, ['started', 'a done', 'b done', 'c done']);
    assert.equal(saga?.version, 4, 'one version per change: a, b, c recorded after the start');
    assert.deepEqual(await rows('toy_effects', sagaId), ['a', 'b', 'c'].map((s) => ({ step: s, key: `${sagaId}:${s}` })));
  });

  test('another tenant cannot see or advance the saga (RLS)', async () => {
    const { sagaId } = await start({});
    const otherStaff = { service: SERVICE, tenantId: randomUUID(), actor: { kind: 'staff', id: randomUUID() } } as const;
    assert.equal(await uow(otherStaff, (tx) => loadSaga(tx, registry, sagaId)), null);
    await assert.rejects(uow(otherStaff, (tx) => advanceSaga(tx, registry, sagaId, { type: 'poke' })), { code: 'NOT_FOUND' });
    await drain();
  });

  test('a step that fails for good compensates the completed steps in reverse order', async () => {
    const { tenantId, sagaId } = await start({ failAt: 'c' });
    await drain();
    const saga = await load(tenantId, sagaId);
    assert.equal(saga?.status, 'compensated');
    assert.equal(saga?.error, 'c failed: c refused');
    assert.deepEqual((await rows('toy_effects', sagaId)).map((r) => r.step), ['a', 'b', 'undo-b', 'undo-a']);
    assert.equal((await rows('toy_effects', sagaId)).find((r) => r.step === 'undo-b')?.key, `${sagaId}:b:compensate`);
  });

  test("a compensation that fails for good keeps the compensations behind it pending, and says so in its error, the stuck list and the close (before: pending [], undo:a dropped, named nowhere)", async () => {
    const { tenantId, sagaId } = await start({ failAt: 'c', undoFailAt: 'b' });
    await drain();
    const saga = await load(tenantId, sagaId);
    assert.deepEqual([saga?.status, saga?.pending, saga?.completed], ['failed', ['undo:b', 'undo:a'], ['a', 'b']], 'the failed compensation first, then the one it held up');
    assert.equal(saga?.error, 'c failed: c refused; compensation b failed: undo of b refused; left: undo:b, undo:a');
    assert.deepEqual((await rows('toy_attempts', sagaId)).map((r) => r.step), ['a', 'b', 'c', 'undo-b'], 'undo:a did not run: the saga waits for a person');
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
    const [stuck] = (await uow(ops, (tx) => listSagas(tx, 'payments', { stuckAfterMs: 3_600_000, status: 'failed' }))).filter((s) => s.id === sagaId);
    assert.deepEqual(stuck?.pending, ['undo:b', 'undo:a']);
    assert.match(stuck?.stuck ?? '', /^failed: .*; left: undo:b, undo:a; a compensation failed for good, so a person must put things right: undo:b, undo:a, in that order, by hand/);
    await drain();
    assert.equal((await load(tenantId, sagaId))?.version, saga?.version, 'a failed saga is not claimed');
    await assert.rejects(uow(ops, (tx) => resumeSaga(tx, 'payments', sagaId, 'ops')), { code: 'SAGA_NOT_PARKED' });
    const closed = await uow(ops, (tx) => closeSaga(tx, 'payments', sagaId, { by: 'ops', reason: 'undid b and a by hand' }));
    assert.deepEqual(closed?.left, ['undo:b', 'undo:a'], 'what the person settled by hand');
  });

  test('a person who settled by hand the compensation that failed for good resumes the saga past it: the compensations behind it run, in order, and the settled one never again (before: none of it could run; resume refused, and every compensation was left to the person)', async () => {
    const { tenantId, sagaId } = await start({ failAt: 'c', undoFailAt: 'b' });
    await drain();
    assert.deepEqual((await load(tenantId, sagaId))?.pending, ['undo:b', 'undo:a']);
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ana' } } as const;
    // A plain resume would run undo:b again under its key: refused, naming the way that skips it.
    await assert.rejects(uow(ops, (tx) => resumeSaga(tx, 'payments', sagaId, 'ana')), (e: Error & { code?: string }) =>
      e.code === 'SAGA_NOT_PARKED' && e.message.includes(`Settle undo:b by hand, then 'brigade sagas resume ${sagaId} --settled TEXT' runs the rest (undo:a)`));
    await assert.rejects(uow(ops, (tx) => settleSagaCompensation(tx, 'payments', sagaId, { by: 'ana', settled: '  ' })), { code: 'VALIDATION_FAILED' });
    const [stuck] = (await uow(ops, (tx) => listSagas(tx, 'payments', { stuckAfterMs: 3_600_000, status: 'failed' }))).filter((s) => s.id === sagaId);
    assert.ok(stuck?.stuck?.endsWith(`; or settle undo:b by hand and 'brigade sagas resume ${sagaId} --settled …' runs the rest`), stuck?.stuck ?? undefined);

    const settled = await uow(ops, (tx) => settleSagaCompensation(tx, 'payments', sagaId, { by: 'ana', settled: 'undid b by hand (ticket 42)' }));
    assert.deepEqual(settled, {
      tenantId,
      was: 'failed',
      settledItem: 'undo:b',
      status: 'compensating',
      pending: ['undo:a'],
      error: 'c failed: c refused; compensation b failed: undo of b refused; left: undo:b, undo:a',
    });
    const { rows: [row] } = await pool.query(`select status, pending, attempts, error, run_after <= now() as due from payments.saga_instances where id = $1`, [sagaId]);
    assert.deepEqual(row, {
      status: 'compensating',
      pending: ['undo:a'],
      attempts: 0,
      error: 'c failed: c refused; compensation b failed: undo of b refused; undo:b settled by hand by ana: undid b by hand (ticket 42)',
      due: true,
    }, 'the rest due at once; the error says why it failed and who settled what, without the old left list');
    await drain();
    const done = await load(tenantId, sagaId);
    assert.deepEqual([done?.status, done?.pending, done?.completed], ['compensated', [], ['a', 'b']]);
    assert.deepEqual((await rows('toy_attempts', sagaId)).map((r) => r.step), ['a', 'b', 'c', 'undo-b', 'undo-a'], 'undo:b is not run again; undo:a runs');
    assert.deepEqual((await rows('toy_effects', sagaId)).find((r) => r.step === 'undo-a'), { step: 'undo-a', key: `${sagaId}:a:compensate` });
    const shown = await uow(ops, (tx) => showSaga(tx, 'payments', sagaId));
    const entry = shown?.log.find((e) => e.item === 'settled');
    assert.deepEqual([entry?.kind, entry?.status, entry?.data], [
      'event',
      'compensating',
      { by: 'ana', settled: 'undid b by hand (ticket 42)', item: 'undo:b', was: 'failed', left: ['undo:a'], error: 'c failed: c refused; compensation b failed: undo of b refused; left: undo:b, undo:a' },
    ]);
    assert.deepEqual(shown?.log.slice(-2).map((e) => [e.kind, e.item, e.status]), [['event', 'settled', 'compensating'], ['succeeded', 'undo:a', 'compensated']]);
    await assert.rejects(uow(ops, (tx) => settleSagaCompensation(tx, 'payments', sagaId, { by: 'ana', settled: 'again' })), { code: 'SAGA_NOT_SETTLEABLE', status: 422 });
  });

  test('a saga the runner parked on a compensation (its outcome could not be recorded) can be resumed past it once settled by hand: the rest runs, it does not; a compensation failing afterwards says what was settled', async () => {
    const runs: string[] = [];
    const saga = defineSaga<{ n: number }, null>({
      name: 'bigundo',
      initialState: { n: 0 },
      start: () => ({ run: ['a', 'b', 'c'] }),
      steps: {
        a: {
          action: async () => runs.push('a'),
          compensate: async () => {
            runs.push('undo-a');
            throw new Error('a cannot be undone');
          },
        },
        b: { action: async () => runs.push('b'), compensate: async () => (runs.push('undo-b'), { refunded: 10n }) },
        c: {
          action: async () => {
            runs.push('c');
            throw new Error('c refused');
          },
        },
      },
      on: { 'c.failed': () => ({ fail: 'c refused' }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [saga] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, backoffMs: () => 0, leaseMs: 0 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'bigundo', input: null }));
    while (await ownRunner.runOnce());
    const parked = await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id));
    assert.deepEqual([parked?.status, parked?.pending, runs], ['parked', ['undo:b', 'undo:a'], ['a', 'b', 'c', 'undo-b']]);
    assert.ok(parked?.error?.endsWith(`; or, once you have checked or done undo:b by hand, 'brigade sagas resume ${instance.id} --settled "what you did"' runs the compensations after it`), parked?.error ?? undefined);
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
    const settled = await uow(ops, (tx) => settleSagaCompensation(tx, 'payments', instance.id, { by: 'ops', settled: 'checked: b was refunded (10)' }));
    assert.deepEqual([settled?.was, settled?.settledItem, settled?.status, settled?.pending], ['parked', 'undo:b', 'compensating', ['undo:a']]);
    while (await ownRunner.runOnce());
    const failed = await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id));
    assert.deepEqual([failed?.status, failed?.pending, runs], ['failed', ['undo:a'], ['a', 'b', 'c', 'undo-b', 'undo-a']], 'undo:b ran once, before the park');
    assert.equal(failed?.error, 'c refused; undo:b settled by hand by ops: checked: b was refunded (10); compensation a failed: a cannot be undone; left: undo:a');
    // The last one, settled too: nothing is left, so the saga ends compensated.
    const last = await uow(ops, (tx) => settleSagaCompensation(tx, 'payments', instance.id, { by: 'ops', settled: 'undid a by hand' }));
    assert.deepEqual([last?.status, last?.pending], ['compensated', []]);
    assert.equal(await ownRunner.runOnce(), false);
    assert.deepEqual(runs, ['a', 'b', 'c', 'undo-b', 'undo-a']);
  });

  test('resuming past a settled compensation is refused for a saga that is not failed or parked, for a forward step at the head (its outcome is needed), with nothing pending, and while a runner holds a live lease', async () => {
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
    const insert = async (status: string, pending: string[], extra = '') => {
      const [tenantId, sagaId] = [randomUUID(), randomUUID()];
      await pool.query(
        `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, error) values ($1, $2, 'toy', '{"log": [], "input": {}}', $3, $4, 'stopped')`,
        [tenantId, sagaId, status, pending],
      );
      if (extra !== '') await pool.query(`update payments.saga_instances set ${extra} where id = $1`, [sagaId]);
      return sagaId;
    };
    const settle = (sagaId: string) => uow(ops, (tx) => settleSagaCompensation(tx, 'payments', sagaId, { by: 'ops', settled: 'done by hand' }));
    const running = await insert('running', ['undo:a'], `run_after = now() + interval '1 hour'`);
    await assert.rejects(settle(running), (e: Error & { code?: string; status?: number }) =>
      e.code === 'SAGA_NOT_SETTLEABLE' && e.status === 422 && e.message === `Saga ${running} is running: only a failed saga, or one parked on a compensation, has a compensation to settle by hand and go on past. 'brigade sagas show ${running}' shows what it is doing`);
    const atForward = await insert('parked', ['b', 'undo:a']);
    await assert.rejects(settle(atForward), (e: Error & { code?: string; status?: number }) =>
      e.code === 'SAGA_HEAD_NOT_COMPENSATION' && e.status === 422 &&
      e.message.startsWith(`Saga ${atForward} (parked) is at b, a forward step, not a compensation: it cannot be settled by hand and skipped, because the saga goes on from its outcome`) &&
      e.message.includes(`'brigade sagas resume ${atForward}' runs it again`) && e.message.includes(`'brigade sagas close ${atForward} --reason TEXT'`));
    const empty = await insert('parked', []);
    await assert.rejects(settle(empty), { code: 'SAGA_HEAD_NOT_COMPENSATION', message: /has nothing pending, so there is no compensation to settle/ });
    const leased = await insert('failed', ['undo:b', 'undo:a'], `locked_by = 'runner-X', locked_until = now() + interval '1 hour'`);
    await assert.rejects(settle(leased), { code: 'SAGA_STEP_IN_FLIGHT', status: 409, message: /runner runner-X holds the lease of undo:b until .*restart the process it names/ });
    const { rows } = await pool.query(`select id, pending, version from payments.saga_instances where id = any($1::uuid[])`, [[running, atForward, empty, leased]]);
    assert.ok(rows.every((r) => r.version === 1), 'none changed');
    assert.deepEqual(rows.find((r) => r.id === leased)?.pending, ['undo:b', 'undo:a']);
    await pool.query(`update payments.saga_instances set status = 'completed', pending = '{}', locked_by = null, locked_until = null where id = any($1::uuid[])`, [[running, atForward, empty, leased]]); // nothing for the runners of later tests
  });

  test('a retryable failure is retried with the same key and the effect happens once', async () => {
    const { tenantId, sagaId } = await start({ flakyAt: 'b' });
    await drain();
    assert.equal((await load(tenantId, sagaId))?.status, 'completed');
    const attempts = (await rows('toy_attempts', sagaId)).filter((r) => r.step === 'b');
    assert.deepEqual(attempts, [{ step: 'b', key: `${sagaId}:b` }, { step: 'b', key: `${sagaId}:b` }]);
    assert.equal((await rows('toy_effects', sagaId)).filter((r) => r.step === 'b').length, 1);
  });

  test('an event that leaves the head step alone keeps its retry backoff (before: any event made it due at once, so each event during an outage burned an attempt)', async () => {
    const { tenantId, sagaId } = await start({ flakyAt: 'a' });
    const slow = runner({ backoffMs: () => 60_000 });
    await drain(slow); // attempt 1 of a fails (retryable): the next one in 60 s
    const runAfter = async () => (await pool.query(`select run_after, run_after > now() + interval '50 seconds' as later from payments.saga_instances where id = $1`, [sagaId])).rows[0];
    const before = await runAfter();
    assert.equal(before.later, true, 'backing off');
    await asTenant(tenantId, (tx) => advanceSaga(tx, registry, sagaId, { type: 'poke', data: 1 }, { tenantId }));
    const after = await runAfter();
    assert.deepEqual([after.run_after.toISOString(), after.later], [before.run_after.toISOString(), true], 'run_after unchanged by the event');
    await drain(slow);
    assert.deepEqual((await rows('toy_attempts', sagaId)).map((r) => r.step), ['a'], 'not retried early');
    // A step outcome still sets it: let the backoff pass, then the retry runs and the saga goes on.
    await pool.query(`update payments.saga_instances set run_after = now() where id = $1`, [sagaId]);
    await drain();
    assert.equal((await load(tenantId, sagaId))?.status, 'completed');
  });

  test('a step whose .failed handler parks: retried up to its own maxAttempts, then parked for a person; nothing compensated, no more runs', async () => {
    const tries: string[] = [];
    const parky = defineSaga<{ n: number }, null>({
      name: 'parky',
      initialState: { n: 0 },
      start: () => ({ run: ['a', 'b'], schedule: [{ name: 'later', inMs: 3_600_000 }] }),
      steps: {
        a: { action: async () => tries.push('a'), compensate: async () => tries.push('undo-a') },
        b: { maxAttempts: 3, action: async () => Promise.reject(Object.assign(new Error(`b down (${tries.push('b')})`), { code: 'B_DOWN', retryable: true })) },
      },
      on: {
        'b.failed': (_s, e) => ({ park: `b failed for good (${(e.data as { code: string }).code}): settle it by hand` }),
        poke: (s) => ({ state: { n: s.n + 1 } }),
        'deadline.later': (s) => ({ state: { n: s.n + 10 } }),
      },
    });
    const parkRegistry = createSagaRegistry({ schema: 'payments', sagas: [parky] });
    const parkRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: parkRegistry, backoffMs: () => 0, maxAttempts: 10 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, parkRegistry, { name: 'parky', input: null }));
    while (await parkRunner.runOnce());
    const parked = await asTenant(tenantId, (tx) => loadSaga(tx, parkRegistry, instance.id));
    assert.deepEqual([parked?.status, parked?.pending, parked?.completed, parked?.attempts], ['parked', ['b'], ['a'], 3]);
    assert.equal(parked?.error, 'b failed for good (B_DOWN): settle it by hand');
    assert.deepEqual(tries, ['a', 'b', 'b', 'b'], "b's own maxAttempts (3), not the runner's (10); a is not compensated");
    assert.equal(await parkRunner.runOnce(), false, 'a parked saga is not run');
    const poked = await asTenant(tenantId, (tx) => advanceSaga(tx, parkRegistry, instance.id, { type: 'poke' }));
    assert.deepEqual([poked.applied, poked.instance.status, poked.instance.pending, poked.instance.state], [true, 'parked', ['b'], { n: 1 }], 'an event is taken into its state; it stays parked');
    const { rows: open } = await pool.query(`select count(*)::int as n from payments.saga_deadlines where saga_id = $1 and cancelled_at is null`, [instance.id]);
    assert.equal(open[0].n, 1, 'its deadlines stay open');
    await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second' where saga_id = $1`, [instance.id]);
    assert.equal(await createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry: parkRegistry }).fireDue(), 1);
    const noted = await asTenant(tenantId, (tx) => loadSaga(tx, parkRegistry, instance.id));
    assert.deepEqual([noted?.status, noted?.state], ['parked', { n: 11 }], 'a deadline that fires while parked is taken like an event');
    assert.equal(await parkRunner.runOnce(), false, 'and nothing runs');
    const stuck = await uow({ service: SERVICE, actor: { kind: 'admin', id: 'test' } }, (tx) => listSagas(tx, 'payments', { stuckAfterMs: 3_600_000, status: 'parked' }));
    assert.deepEqual(stuck.filter((x) => x.id === instance.id).map((x) => x.stuck), ['parked with b left: b failed for good (B_DOWN): settle it by hand (the saga will not go on by itself)']);
  });

  /**
   * Saga `name`: steps a then b, each recording its effect in `effects` and undone in reverse; b
   * returns `{ id: 'b-1' }`, which b.succeeded keeps in the state (it throws while `bug()`); the event
   * `stop` fails it. Taken to the moment `stop` fails it while b's first run is in flight; b then
   * finishes (`stepB`, the runner's runOnce).
   */
  const stopWhileBRuns = async (name: string, bug: () => boolean = () => false) => {
    const effects: string[] = [];
    let entered!: () => void;
    const running = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let paused = false;
    const late = defineSaga<{ got: string | null }, null>({
      name,
      initialState: { got: null },
      start: () => ({ run: ['a', 'b'] }),
      steps: {
        a: { action: async () => effects.push('a'), compensate: async () => effects.push('undo-a') },
        b: {
          action: async () => {
            if (!paused) {
              paused = true;
              entered();
              await gate;
            }
            effects.push('b');
            return { id: 'b-1' };
          },
          compensate: async (ctx) => effects.push(`undo-b ${ctx.state.got}`),
        },
      },
      on: {
        'b.succeeded': (_s, e) => {
          if (bug()) throw new TypeError('handler bug');
          return { state: { got: (e.data as { id: string }).id }, complete: true };
        },
        stop: () => ({ fail: 'stopped' }),
      },
    });
    const lateRegistry = createSagaRegistry({ schema: 'payments', sagas: [late] });
    const lateRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: lateRegistry, backoffMs: () => 0 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, lateRegistry, { name, input: null }));
    assert.equal(await lateRunner.runOnce(), true, 'step a');
    const stepB = lateRunner.runOnce();
    await running; // b's action has started (its runner holds the lease)
    const stopped = await asTenant(tenantId, (tx) => advanceSaga(tx, lateRegistry, instance.id, { type: 'stop' }));
    release();
    const load = () => asTenant(tenantId, (tx) => loadSaga(tx, lateRegistry, instance.id));
    return { effects, runner: lateRunner, sagaId: instance.id, stopped, stepB, load };
  };

  test('an event fails the saga while a step runs: the step finishes, its success is recorded and compensated first', async () => {
    const { effects, runner: lateRunner, stopped, stepB, load: loadLate } = await stopWhileBRuns('late');
    assert.deepEqual([stopped.applied, stopped.instance.status, stopped.instance.pending], [true, 'compensating', ['b', 'undo:a']]);
    await stepB;
    while (await lateRunner.runOnce());
    const done = await loadLate();
    assert.deepEqual([done?.status, done?.completed, done?.error], ['compensated', ['a', 'b'], 'stopped']);
    assert.deepEqual(effects, ['a', 'b', 'undo-b b-1', 'undo-a'], "b's late success is undone, with the state its handler gave");
  });

  test('a saga parked with a forward step kept at the head of its compensation resumes compensating, with the reason it failed', async () => {
    let bug = true;
    const { effects, runner: lateRunner, sagaId, stepB, load: loadLate } = await stopWhileBRuns('lateparked', () => bug);
    await stepB; // b's success cannot be recorded (its handler throws): parked with b at the head of the compensation
    const parked = await loadLate();
    assert.deepEqual([parked?.status, parked?.pending, parked?.errorBeforePark], ['parked', ['b', 'undo:a'], 'stopped']);
    bug = false; // the handler is fixed
    const resumed = await uow({ service: SERVICE, actor: { kind: 'admin', id: 'ops' } }, (tx) => resumeSaga(tx, 'payments', sagaId, 'ops'));
    assert.deepEqual([resumed?.status, resumed?.pending], ['compensating', ['b', 'undo:a']], 'a compensation is pending, though not at the head');
    while (await lateRunner.runOnce());
    const done = await loadLate();
    assert.deepEqual([done?.status, done?.error], ['compensated', 'stopped']);
    assert.deepEqual(effects, ['a', 'b', 'b', 'undo-b b-1', 'undo-a'], "b's success is undone, not taken as the saga's completion");
  });

  test('a saga an event failed while parked, with nothing to undo, resumes compensating: its head step runs, and its success is not carried on', async () => {
    const runs: string[] = [];
    const nothingToUndo = defineSaga<{ n: number }, null>({
      name: 'nothingtoundo',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: {
        a: { action: async () => (runs.push('a') === 1 ? Promise.reject(Object.assign(new Error('a: no answer'), { code: 'A_DOWN' })) : null) },
        b: { action: async () => runs.push('b') },
      },
      on: { 'a.failed': () => ({ park: 'a: ask a person' }), 'a.succeeded': () => ({ run: ['b'] }), 'b.succeeded': () => ({ complete: true }), stop: () => ({ fail: 'stopped' }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [nothingToUndo] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, backoffMs: () => 0 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'nothingtoundo', input: null }));
    while (await ownRunner.runOnce());
    const stopped = await asTenant(tenantId, (tx) => advanceSaga(tx, ownRegistry, instance.id, { type: 'stop' }));
    assert.deepEqual([stopped.instance.status, stopped.instance.pending, stopped.instance.errorBeforePark], ['parked', ['a'], 'stopped'], 'no compensation is pending: only the failure kept says it failed');
    const resumed = await uow({ service: SERVICE, actor: { kind: 'admin', id: 'ops' } }, (tx) => resumeSaga(tx, 'payments', instance.id, 'ops'));
    assert.deepEqual([resumed?.status, resumed?.pending], ['compensating', ['a']]);
    while (await ownRunner.runOnce());
    const done = await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id));
    assert.deepEqual([done?.status, done?.pending, done?.completed, done?.error], ['compensated', [], ['a'], 'stopped']);
    assert.deepEqual(runs, ['a', 'a'], "a's success does not run b: the saga had failed");
  });

  test("a person cannot resume or close a saga while a runner holds a live lease on its step (the step may still move money): refused with when the lease ends, the lease kept; the step's outcome is taken under the park", async () => {
    let entered!: () => void;
    const running = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const runs: string[] = [];
    const held = defineSaga<{ n: number }, null>({
      name: 'heldlease',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: async () => (runs.length === 0 ? (entered(), await gate, runs.push('a in flight')) : runs.push('a again')) }, b: { action: async () => runs.push('b') } },
      on: { hold: () => ({ park: 'held: ask a person' }), 'a.succeeded': () => ({ run: ['b'] }), 'b.succeeded': () => ({ complete: true }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [held] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, backoffMs: () => 0, leaseMs: 3_600_000 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'heldlease', input: null }));
    const stepA = ownRunner.runOnce();
    await running; // a's action has started: its runner holds the lease
    const parked = await asTenant(tenantId, (tx) => advanceSaga(tx, ownRegistry, instance.id, { type: 'hold' }));
    assert.equal(parked.instance.status, 'parked');
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
    const { rows: lease } = await pool.query(`select locked_by, locked_until from payments.saga_instances where id = $1`, [instance.id]);
    const inFlight = (e: unknown) => (e as { code?: string; status?: number }).code === 'SAGA_STEP_IN_FLIGHT' && (e as { status?: number }).status === 409 && new RegExp(`runner ${lease[0].locked_by} holds the lease of a until ${lease[0].locked_until.toISOString()} and renews it while the step runs`).test((e as Error).message);
    await assert.rejects(uow(ops, (tx) => resumeSaga(tx, 'payments', instance.id, 'ops')), inFlight);
    await assert.rejects(uow(ops, (tx) => closeSaga(tx, 'payments', instance.id, { by: 'ops', reason: 'nothing charged' })), inFlight);
    const { rows: after } = await pool.query(`select status, locked_by, locked_until from payments.saga_instances where id = $1`, [instance.id]);
    assert.deepEqual(after, [{ status: 'parked', ...lease[0] }], 'still parked, the lease untouched: no second runner starts a');
    assert.equal(await ownRunner.runOnce(), false, 'nothing else runs a meanwhile');
    release();
    await stepA;
    assert.ok(String(lease[0].locked_by).startsWith(`${os.hostname()}:${process.pid}/runner-`), `the default runner id names the process to restart should it hang: ${lease[0].locked_by}`);
    // a's success is taken though the saga is parked (before, it was dropped, and the resume ran a
    // again); the saga stays parked with what is left, and the runner's lease is gone with its report.
    const { rows: reported } = await pool.query(`select status, pending, completed, error, locked_by from payments.saga_instances where id = $1`, [instance.id]);
    assert.deepEqual(reported, [{ status: 'parked', pending: ['b'], completed: ['a'], error: 'held: ask a person', locked_by: null }]);
    const resumed = await uow(ops, (tx) => resumeSaga(tx, 'payments', instance.id, 'ops'));
    assert.equal(resumed?.status, 'running');
    // A command the saga's status forbids is 422 (DESIGN.md: 409/412 are for conflicts, as a step in flight above); before, 409.
    await assert.rejects(uow(ops, (tx) => resumeSaga(tx, 'payments', instance.id, 'ops')), { code: 'SAGA_NOT_PARKED', status: 422 });
    await assert.rejects(uow(ops, (tx) => closeSaga(tx, 'payments', instance.id, { by: 'ops', reason: 'settled' })), { code: 'SAGA_NOT_CLOSABLE', status: 422 });
    while (await ownRunner.runOnce());
    assert.deepEqual([(await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id)))?.status, runs], ['completed', ['a in flight', 'b']]);
  });

  test('a step slower than the lease keeps it while it runs: no second runner starts it (before: the lease ran out under the step, and another runner ran it again)', async () => {
    let entered!: () => void;
    const running = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const runs: string[] = [];
    const slow = defineSaga<{ n: number }, null>({
      name: 'slowstep',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: async () => (runs.push('a'), entered(), await gate, null) } },
      on: { 'a.succeeded': () => ({ complete: true }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [slow] });
    const runnerOf = () => createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, backoffMs: () => 0, leaseMs: 3000 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'slowstep', input: null }));
    const first = runnerOf().runOnce();
    try {
      await running;
      // Past the lease the claim took: without renewal, a second runner would claim the saga now.
      const { rows: claimed } = await pool.query(`select locked_until::text as until from payments.saga_instances where id = $1`, [instance.id]);
      await eventually('the claimed lease to run out', async () => (await pool.query(`select now() > $1::timestamptz as past`, [claimed[0].until])).rows[0].past, (past) => past === true, 30_000);
      assert.equal(await runnerOf().runOnce(), false, 'a second runner finds nothing to claim');
      const { rows } = await pool.query(`select locked_until > now() as live from payments.saga_instances where id = $1`, [instance.id]);
      assert.deepEqual(rows, [{ live: true }], 'the lease is live (what makes a close or resume of a parked saga wait)');
    } finally {
      release();
    }
    await first;
    assert.deepEqual([(await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id)))?.status, runs], ['completed', ['a']]);
  });

  test("a step whose action never settles gives up at its timeout: its signal aborts, its lease is let go, and the attempt counts as a retryable failure under the step's retry rules (before: the runner renewed the lease for ever, and the saga could be neither claimed again, resumed nor closed)", async () => {
    const signals: AbortSignal[] = [];
    const releases: Array<() => void> = [];
    const hang = defineSaga<{ n: number }, null>({
      name: 'hang',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: {
        a: {
          timeoutMs: 300,
          maxAttempts: 2,
          // Never settles by itself, and ignores its signal (released at the end, so that the test ends without the fix too).
          action: (ctx) => (signals.push(ctx.signal), new Promise((resolve) => releases.push(() => resolve(null)))),
        },
      },
      on: { 'a.failed': (_s, e) => ({ park: `a: ${(e.data as { code: string; message: string }).code}: ${(e.data as { message: string }).message}` }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [hang] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, backoffMs: () => 0, leaseMs: 150 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'hang', input: null }));
    const row = async () => (await pool.query(`select status, pending, attempts, locked_by, error from payments.saga_instances where id = $1`, [instance.id])).rows[0];
    try {
      assert.equal(await within(ownRunner.runOnce(), 15_000, 'the first attempt of a to time out'), true);
      assert.deepEqual(await row(), { status: 'running', pending: ['a'], attempts: 1, locked_by: null, error: null }, 'a retryable failure; the lease let go');
      assert.deepEqual([signals.length, signals[0]?.aborted, (signals[0]?.reason as { code?: string } | undefined)?.code], [1, true, 'SAGA_STEP_TIMED_OUT'], 'the action was told through its signal');
      const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
      const log = (await uow(ops, (tx) => showSaga(tx, 'payments', instance.id)))?.log.at(-1);
      assert.deepEqual([log?.kind, log?.item, log?.attempt, log?.data], ['retrying', 'a', 1, { code: 'SAGA_STEP_TIMED_OUT' }]);
      assert.match(log?.error ?? '', /^a of saga hang did not settle within 300 ms \(attempt 1\)/);
      // The second and last attempt times out too: a final failure, which the step's .failed handler parks.
      assert.equal(await within(ownRunner.runOnce(), 15_000, 'the second attempt of a to time out'), true);
      const parked = await row();
      assert.deepEqual([parked.status, parked.pending, parked.attempts, parked.locked_by], ['parked', ['a'], 2, null]);
      assert.match(parked.error, /^a: SAGA_STEP_TIMED_OUT: a of saga hang did not settle within 300 ms \(attempt 2\)/);
      assert.equal(signals.length, 2, 'a ran twice, once per attempt');
      const closed = await uow(ops, (tx) => closeSaga(tx, 'payments', instance.id, { by: 'ops', reason: 'checked by hand' }));
      assert.deepEqual(closed?.left, ['a'], 'no lease holds the close back');
    } finally {
      for (const release of releases) release();
    }
  });

  test("a runner's stop aborts the signal of the step it is running: a step waiting on I/O ends at once, its attempt is recorded as a retryable failure (SAGA_STEP_ABORTED) with its lease let go and the item due at once, and another runner completes it (before: the signal was aborted only at the step's timeout, so run() waited for the step and the item for its lease)", async () => {
    // A server that takes the request and never answers: the step's I/O, which only its signal ends.
    const server = await unansweredServer();
    const signals: AbortSignal[] = [];
    const stoppable = defineSaga<{ n: number }, null>({
      name: 'stoppable',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: {
        a: {
          maxAttempts: 1, // an attempt ended by a stop is retried even when it was the last
          action: async (ctx) => {
            signals.push(ctx.signal);
            if (ctx.attempt === 1) await fetch(server.url, { signal: ctx.signal });
            return { attempt: ctx.attempt };
          },
        },
      },
      on: { 'a.succeeded': () => ({ complete: true }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [stoppable] });
    const first = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, workerId: 'stopping-runner' });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'stoppable', input: null }));
    const row = async () => (await pool.query(`select status, pending, attempts, locked_by, run_after <= now() as due, error from payments.saga_instances where id = $1`, [instance.id])).rows[0];
    const stop = new AbortController();
    try {
      const running = first.run(stop.signal);
      await eventually('the step to wait on its request', async () => server.taken(), (n) => n === 1, 15_000);
      stop.abort();
      await within(running, 15_000, "run() to return once the runner was stopped mid-step");
      assert.deepEqual([signals.length, signals[0]?.aborted, (signals[0]?.reason as { code?: string } | undefined)?.code], [1, true, 'SAGA_STEP_ABORTED'], "the step's signal was aborted by the stop");
      await eventually('the request to be abandoned', async () => server.closed(), (n) => n >= 1, 15_000);
      assert.deepEqual(await row(), { status: 'running', pending: ['a'], attempts: 1, locked_by: null, due: true, error: null }, 'a retryable failure, the lease let go, due at once');
      const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
      const log = (await uow(ops, (tx) => showSaga(tx, 'payments', instance.id)))?.log.at(-1);
      assert.deepEqual([log?.kind, log?.item, log?.attempt, log?.data], ['retrying', 'a', 1, { code: 'SAGA_STEP_ABORTED' }]);
      assert.match(log?.error ?? '', /^a of saga stoppable was stopped \(attempt 1\): its runner is stopping/);
      // Another runner (another instance) takes the item at once, not after the lease, and completes it.
      const other = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, workerId: 'other-runner' });
      assert.equal(await other.runOnce(), true, 'the item was claimable at once');
      const done = await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id));
      assert.deepEqual([done?.status, done?.completed], ['completed', ['a']]);
      assert.equal(signals[1]?.aborted, false, "the rerun's signal is its own");
    } finally {
      stop.abort();
      await server.close();
    }
  });

  test('a step in flight names the runner that holds its lease, in the refusal of a resume or close and in the stuck list, and says what to do if that runner is hung (before: "Retry after" a time the renewed lease kept moving past)', async () => {
    const [tenantId, parkedId, runningId] = [randomUUID(), randomUUID(), randomUUID()];
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, error, locked_by, locked_until, updated_at)
       values ($1, $2, 'toy', '{"log": [], "input": {}}', 'parked', '{b}', 'settle b', 'worker-7:4242/runner-X', now() + interval '1 hour', now()),
              ($1, $3, 'toy', '{"log": [], "input": {}}', 'running', '{b}', null, 'worker-7:4242/runner-X', now() + interval '1 hour', now() - interval '1 hour')`,
      [tenantId, parkedId, runningId],
    );
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
    const names = (command: string) => (e: unknown) =>
      (e as { code?: string }).code === 'SAGA_STEP_IN_FLIGHT' &&
      new RegExp(`^Saga ${parkedId} cannot be ${command} yet: runner worker-7:4242/runner-X holds the lease of b until [^ ]+Z and renews it while the step runs`).test((e as Error).message) &&
      (e as Error).message.includes('If that runner is hung (the lease keeps moving past the step\'s timeout), restart the process it names') &&
      (e as { details?: { lockedBy?: string } }).details?.lockedBy === 'worker-7:4242/runner-X';
    await assert.rejects(uow(ops, (tx) => resumeSaga(tx, 'payments', parkedId, 'ops')), names('resumed'));
    await assert.rejects(uow(ops, (tx) => closeSaga(tx, 'payments', parkedId, { by: 'ops', reason: 'settled' })), names('closed'));
    const [stuck] = (await uow(ops, (tx) => listSagas(tx, 'payments', { stuckAfterMs: 60_000, status: 'running' }))).filter((s) => s.id === runningId);
    assert.equal(stuck?.lockedBy, 'worker-7:4242/runner-X');
    assert.match(stuck?.stuck ?? '', /^b is running on runner worker-7:4242\/runner-X \(attempt 1, lease until [^)]+\); .*restart the process it names/);
    await pool.query(`update payments.saga_instances set status = 'completed', pending = '{}', locked_by = null, locked_until = null where id = any($1::uuid[])`, [[parkedId, runningId]]); // nothing for the runners of later tests
  });

  test("a stale step outcome releases its runner's lease: the next step is claimed at once (before: the lease stayed until it ran out, and a resume or close was refused as in flight)", async () => {
    const twoSteps = defineSaga<{ n: number }, null>({
      name: 'stalelease',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: async () => null }, b: { action: async () => null } },
      on: { 'a.succeeded': () => ({ run: ['b'] }), 'b.succeeded': () => ({ complete: true }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [twoSteps] });
    const system = { service: SERVICE, actor: { kind: 'system', id: 'test' } } as const;
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'stalelease', input: null }));
    // Runner A claims a; its lease lapses (a stalled process), and runner B claims a in turn.
    const a = await uow(system, (tx) => claimSagaWork(tx, ownRegistry, 'runner-A', 1));
    await eventually('the lease of runner A to lapse', async () => (await pool.query(`select locked_until < now() as lapsed from payments.saga_instances where id = $1`, [instance.id])).rows[0].lapsed, (lapsed) => lapsed === true, 30_000);
    const b = await uow(system, (tx) => claimSagaWork(tx, ownRegistry, 'runner-B', 3_600_000));
    assert.deepEqual([a?.id, a?.pending[0], b?.id, b?.pending[0]], [instance.id, 'a', instance.id, 'a']);
    // A's outcome lands first; B's is then stale.
    const record = (workerId: string) => asTenant(tenantId, (tx) => transitionSaga(tx, ownRegistry, instance.id, { kind: 'stepSucceeded', item: 'a', result: null }, { tenantId, releaseLeaseOf: workerId }));
    assert.equal((await record('runner-A')).applied, true);
    assert.equal((await record('runner-B')).applied, false);
    const { rows: lease } = await pool.query(`select pending, locked_by, locked_until from payments.saga_instances where id = $1`, [instance.id]);
    assert.deepEqual(lease, [{ pending: ['b'], locked_by: null, locked_until: null }], "B's lease went with its stale outcome");
    const third = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, backoffMs: () => 0 });
    assert.equal(await third.runOnce(), true, 'a third runner claims b at once');
    assert.equal(await third.runOnce(), false);
    assert.equal((await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id)))?.status, 'completed');
    // A stale outcome leaves alone a lease another runner holds.
    const { instance: other } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'stalelease', input: null }));
    await uow(system, (tx) => claimSagaWork(tx, ownRegistry, 'runner-C', 3_600_000));
    const late = await asTenant(tenantId, (tx) => transitionSaga(tx, ownRegistry, other.id, { kind: 'stepSucceeded', item: 'b', result: null }, { tenantId, releaseLeaseOf: 'runner-D' }));
    assert.equal(late.applied, false);
    assert.deepEqual((await pool.query(`select locked_by from payments.saga_instances where id = $1`, [other.id])).rows, [{ locked_by: 'runner-C' }]);
    await pool.query(`update payments.saga_instances set status = 'completed', pending = '{}', locked_by = null, locked_until = null where id = $1`, [other.id]); // nothing for the runners of later tests
  });

  test('a person resuming or closing an id that two tenants share must name the tenant: refused, not done to the first one started', async () => {
    const [first, second, sagaId] = [randomUUID(), randomUUID(), randomUUID()];
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, error, created_at)
       values ($1, $3, 'toy', '{"log": [], "input": {}}', 'parked', '{b}', 'settle b', now() - interval '1 minute'), ($2, $3, 'toy', '{"log": [], "input": {}}', 'parked', '{b}', 'settle b', now())`,
      [first, second, sagaId],
    );
    const ops = { service: SERVICE, actor: { kind: 'admin', id: 'ops' } } as const;
    const ambiguous = (e: unknown) => (e as { code?: string }).code === 'SAGA_ID_AMBIGUOUS' && new RegExp(`${first}.*${second}|${second}.*${first}`).test((e as Error).message);
    await assert.rejects(uow(ops, (tx) => resumeSaga(tx, 'payments', sagaId, 'ops')), ambiguous);
    await assert.rejects(uow(ops, (tx) => closeSaga(tx, 'payments', sagaId, { by: 'ops', reason: 'settled' })), ambiguous);
    // Where a tool finds the saga (the CLI, before it acts): every tenant that has the id, not the first one started alone.
    assert.deepEqual(await uow(ops, (tx) => listSagaTenants(tx, 'payments', sagaId)), [first, second], 'oldest first');
    assert.deepEqual(await uow(ops, (tx) => listSagaTenants(tx, 'payments', randomUUID())), []);
    assert.deepEqual(await uow({ service: SERVICE, tenantId: second, actor: { kind: 'staff', id: randomUUID() } }, (tx) => listSagaTenants(tx, 'payments', sagaId)), [second], "RLS: a tenant's staff sees its own");
    const resumed = await uow(ops, (tx) => resumeSaga(tx, 'payments', sagaId, 'ops', { tenantId: second }));
    assert.deepEqual([resumed?.tenantId, resumed?.status], [second, 'running']);
    const { rows } = await pool.query(`select tenant_id, status from payments.saga_instances where id = $1 order by created_at`, [sagaId]);
    assert.deepEqual(rows, [{ tenant_id: first, status: 'parked' }, { tenant_id: second, status: 'running' }], "the other tenant's saga is untouched");
    await pool.query(`update payments.saga_instances set status = 'completed', pending = '{}' where id = $1`, [sagaId]); // nothing for the runner of later tests
  });

  /**
   * Runs saga `name`, whose one step `a` returns `result` and whose `a.succeeded` handler is `onSucceeded`, on a
   * runner with a lease of 0 ms (were the item left leased, the next runOnce could take it again at once) until
   * nothing is due: how often `a` ran, the saga as it was left, and what the runner reported to onError.
   */
  const runOutcome = async (name: string, result: unknown, onSucceeded: () => SagaDecision<{ n: number }>) => {
    const runs: string[] = [];
    const errors: unknown[] = [];
    const saga = defineSaga<{ n: number }, null>({ name, initialState: { n: 0 }, start: () => ({ run: ['a'] }), steps: { a: { action: async () => (runs.push('a'), result) } }, on: { 'a.succeeded': onSucceeded } });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [saga] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, leaseMs: 0, onError: (e) => errors.push(e) });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name, input: null }));
    assert.equal(await ownRunner.runOnce(), true);
    assert.equal(await ownRunner.runOnce(), false, 'nothing left to run');
    return { runs, errors: errors.map((e) => (e as { code?: string }).code), saga: await asTenant(tenantId, (tx) => loadSaga<{ n: number }>(tx, ownRegistry, instance.id)) };
  };

  test('an outcome that cannot be recorded (its handler throws) parks the saga with the error, instead of running the step again at every lease', async () => {
    const { runs, errors, saga: parked } = await runOutcome('buggy', 1, () => {
      throw new TypeError('handler bug');
    });
    assert.deepEqual(runs, ['a'], 'the step ran once');
    assert.deepEqual([parked?.status, parked?.pending, parked?.completed], ['parked', ['a'], []]);
    assert.match(parked?.error ?? '', /^a succeeded \(attempt 1\) but its outcome could not be recorded: The handler of "a\.succeeded" in saga buggy threw: handler bug\. .*Parked so that/);
    assert.deepEqual(errors, ['SAGA_HANDLER_FAILED'], 'and reported to onError');
  });

  test('a result JSON cannot hold (a BigInt) parks the saga at once, instead of running the step again at every lease', async () => {
    const { runs, saga: parked } = await runOutcome('big', { amount: 10n }, () => ({ complete: true }));
    assert.deepEqual(runs, ['a'], 'the step ran once');
    assert.equal(parked?.status, 'parked');
    assert.match(parked?.error ?? '', /could not be recorded: The result of a in saga big cannot be stored as JSON: .*BigInt/);
  });

  test('a handler state JSON cannot hold (a BigInt) parks the saga at once, instead of running the step again at every lease (before: a plain TypeError, the step ran again at each lease and the saga was never parked)', async () => {
    const { runs, errors, saga: parked } = await runOutcome('bigstate', null, () => ({ state: { n: 10n } as unknown as { n: number } }));
    assert.deepEqual(runs, ['a'], 'the step ran once');
    assert.deepEqual([parked?.status, parked?.pending, parked?.state], ['parked', ['a'], { n: 0 }]);
    assert.match(parked?.error ?? '', /^a succeeded \(attempt 1\) but its outcome could not be recorded: The handler of "a\.succeeded" in saga bigstate returned a state that cannot be stored as JSON: .*BigInt/);
    assert.deepEqual(errors, ['SAGA_HANDLER_FAILED']);
  });

  test("a step's .failed handler that runs the step again parks the saga at once with the refusal, instead of running it again under the key it failed with (before: queued again, it ran a second time with the same key)", async () => {
    let runs = 0;
    const errors: unknown[] = [];
    const retrier = defineSaga<{ n: number }, null>({
      name: 'retrier',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: async () => (runs++, Promise.reject(Object.assign(new Error('declined'), { code: 'DECLINED' }))) } },
      on: { 'a.failed': () => ({ run: ['a'] }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [retrier] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, leaseMs: 0, onError: (e) => errors.push(e) });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'retrier', input: null }));
    // At most four runs: before the fix, every run queued the next.
    for (let i = 0; i < 4 && (await ownRunner.runOnce()); i++);
    const parked = await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id));
    assert.deepEqual([runs, parked?.status, parked?.pending], [1, 'parked', ['a']], 'a ran once, and waits for a person');
    assert.match(parked?.error ?? '', /^a failed \(attempt 1\) but its outcome could not be recorded: Step a of saga retrier failed for good, and its handler "a\.failed" runs it again: a step runs at most once per saga/);
    assert.deepEqual(errors.map((e) => (e as { code?: string }).code), ['SAGA_DEFINITION_INVALID']);
  });

  test('a step that failed for good while the saga went on is refused to a later event that runs it again, across transactions (before: queued, it ran a second time under the key it failed with)', async () => {
    const runs: string[] = [];
    const goesOn = defineSaga<{ n: number }, null>({
      name: 'goeson',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: async () => (runs.push('a'), Promise.reject(Object.assign(new Error('declined'), { code: 'DECLINED' }))) }, b: { action: async () => (runs.push('b'), null) } },
      on: { 'a.failed': () => ({ run: ['b'] }), again: () => ({ run: ['a'] }) },
    });
    const ownRegistry = createSagaRegistry({ schema: 'payments', sagas: [goesOn] });
    const ownRunner = createSagaRunner({ unitOfWork: uow, service: SERVICE, registry: ownRegistry, leaseMs: 0 });
    const tenantId = randomUUID();
    const { instance } = await asTenant(tenantId, (tx) => startSaga(tx, ownRegistry, { name: 'goeson', input: null }));
    while (await ownRunner.runOnce());
    assert.deepEqual(runs, ['a', 'b']);
    await assert.rejects(asTenant(tenantId, (tx) => advanceSaga(tx, ownRegistry, instance.id, { type: 'again' }, { tenantId })), { code: 'SAGA_DEFINITION_INVALID', message: /^Step a of saga goeson failed for good earlier/ });
    while (await ownRunner.runOnce());
    assert.deepEqual(runs, ['a', 'b'], 'a ran once');
    const saga = await asTenant(tenantId, (tx) => loadSaga(tx, ownRegistry, instance.id));
    assert.deepEqual([saga?.status, saga?.pending, saga?.completed, saga?.failed], ['running', [], ['b'], ['a']]);
  });

  test('a result PostgreSQL refuses as data (SQLSTATE class 22) parks the saga at once; a failure to record that passes (a deadlock, twice in a row) leaves the step to its lease', async () => {
    const runs: string[] = [];
    const twice = defineSaga<{ n: number }, { result: unknown }>({
      name: 'twice',
      initialState: { n: 0 },
      start: (s, input) => ({ state: { n: input.result === null ? 0 : 1 }, run: ['a'] }),
      steps: { a: { action: async (ctx) => (runs.push(ctx.sagaId), ctx.state.n === 1 ? { note: 'nul \u0000 byte' } : null) } },
      on: { 'a.succeeded': () => ({ complete: true }) },
    });
    const twiceRegistry = createSagaRegistry({ schema: 'payments', sagas: [twice] });
    const tenantId = randomUUID();
    // The next `blinks` transactions of the tenant fail as a deadlock victim's does (SQLSTATE 40P01).
    let blinks = 0;
    const blinking: UnitOfWorkFn = (context, fn) =>
      uow(context, async (tx) => {
        if (context.tenantId === tenantId && blinks > 0) {
          blinks--;
          await tx.query(`do $$ begin raise exception 'deadlock detected (test)' using errcode = '40P01'; end $$`);
        }
        return fn(tx);
      });
    const twiceRunner = createSagaRunner({ unitOfWork: blinking, service: SERVICE, registry: twiceRegistry, leaseMs: 0 });
    const load = (id: string) => asTenant(tenantId, (tx) => loadSaga(tx, twiceRegistry, id));

    const refused = (await asTenant(tenantId, (tx) => startSaga(tx, twiceRegistry, { name: 'twice', input: { result: 'nul' } }))).instance;
    assert.equal(await twiceRunner.runOnce(), true);
    assert.deepEqual([(await load(refused.id))?.status, runs.length], ['parked', 1], 'the same data would be refused at every lease');
    assert.match((await load(refused.id))?.error ?? '', /could not be recorded: unsupported Unicode escape sequence/);

    const healthy = (await asTenant(tenantId, (tx) => startSaga(tx, twiceRegistry, { name: 'twice', input: { result: null } }))).instance;
    blinks = 2;
    const failures: string[] = [];
    for (let i = 0; i < 2; i++) await twiceRunner.runOnce().catch((e: { code?: string }) => failures.push(e.code ?? '?'));
    assert.deepEqual([failures, (await load(healthy.id))?.status], [['40P01', '40P01'], 'running'], 'not parked: each failure left the step to its lease');
    while (await twiceRunner.runOnce());
    assert.deepEqual([(await load(healthy.id))?.status, runs.filter((id) => id === healthy.id).length], ['completed', 3], 'the step ran again after each lease, with its key');
  });

  test('two advances at the same version: the second write conflicts, re-reads and applies on top', async () => {
    const { tenantId, sagaId } = await start({});
    const before = await load(tenantId, sagaId);
    const held = await pool.connect();
    try {
      // Writer 1 advances and holds its transaction open (row locked, new version uncommitted).
      await held.query('begin');
      await held.query(`set local role brigade_payments`);
      await held.query(`select set_config('brigade.tenant_id', $1, true), set_config('brigade.actor_kind', 'system', true)`, [tenantId]);
      const heldTx: Tx = clientTx(held, { service: SERVICE, tenantId });
      const first = await advanceSaga(heldTx, registry, sagaId, { type: 'poke', data: 1 });
      assert.equal(first.attempts, 1);
      // Writer 2 reads the old version and blocks on the row in its versioned UPDATE.
      const second = asTenant(tenantId, (tx) => advanceSaga<ToyState>(tx, registry, sagaId, { type: 'poke', data: 2 }));
      for (;;) {
        const { rows: waiting } = await pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        if (waiting[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await held.query('commit');
      const result = await second;
      assert.equal(result.attempts, 2, 'the first write matched no row; the second read saw the committed version');
      assert.equal(result.instance.version, (before?.version ?? 0) + 2);
      assert.deepEqual(result.instance.state.log.slice(-2), ['poke 1', 'poke 2']);
    } finally {
      held.release();
    }
    await drain();
  });

  test('a runner killed between a step effect and its record: another resumes, finishes, each effect once', async () => {
    const { tenantId, sagaId } = await start({});
    const { execArgv, file } = scriptRun(path.join(repoRoot, 'test/platform/sagas/fixtures/toyRunner.ts'));
    const child = spawn(process.execPath, [...execArgv, file, database.db.url], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      // Step b's effect is committed and the child hangs before recording the step as done.
      for (;;) {
        if ((await rows('toy_effects', sagaId)).some((r) => r.step === 'b')) break;
        if (child.exitCode !== null) throw new Error(`the runner exited early: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');
    const mid = await load(tenantId, sagaId);
    assert.deepEqual([mid?.status, mid?.completed, mid?.pending], ['running', ['a'], ['b', 'c']]);
    // A new runner takes over once the dead runner's lease has expired.
    const survivor = runner({ workerId: 'survivor' });
    for (;;) {
      await drain(survivor);
      if ((await load(tenantId, sagaId))?.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual((await rows('toy_effects', sagaId)).map((r) => r.step), ['a', 'b', 'c'], 'each effect once');
    assert.deepEqual((await rows('toy_attempts', sagaId)).map((r) => r.step), ['a', 'b', 'b', 'c'], 'b ran again after the kill');
    assert.equal(new Set((await rows('toy_attempts', sagaId)).filter((r) => r.step === 'b').map((r) => r.key)).size, 1, 'with the same key');
  });

  test('a deadline fires after the scheduler restarts, exactly once, and the saga compensates', async () => {
    const { tenantId, sagaId } = await start({ acceptWithinMs: 3_600_000 });
    await drain(); // step a runs; the saga waits for 'accepted'
    const first = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry, pollMs: 10 });
    assert.equal(await first.fireDue(), 0, 'not due yet');
    const stop = new AbortController();
    const running = first.run(stop.signal);
    stop.abort();
    await running; // the first scheduler is gone before the deadline is due
    // Time passes while no scheduler runs: the deadline comes due (moved, not waited for).
    await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second' where saga_id = $1`, [sagaId]);
    const second = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry, pollMs: 10 });
    const fired: string[] = [];
    const third = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry, onFired: (d) => fired.push(`${d.sagaId}:${d.name}`) });
    assert.equal(await second.fireDue(), 1);
    assert.equal(await third.fireDue(), 0, 'already fired');
    assert.deepEqual(fired, []);
    await drain();
    const saga = await load(tenantId, sagaId);
    assert.equal(saga?.status, 'compensated');
    assert.equal(saga?.state.log.filter((l) => l === 'deadline accept').length, 1);
    assert.deepEqual((await rows('toy_effects', sagaId)).map((r) => r.step), ['a', 'undo-a']);
    const { rows: deadlines } = await pool.query(`select fired_at is not null as fired, cancelled_at is not null as cancelled, error from payments.saga_deadlines where saga_id = $1`, [sagaId]);
    assert.deepEqual(deadlines, [{ fired: true, cancelled: false, error: null }]);
  });

  test('a deadline held by one scheduler is skipped by another (SKIP LOCKED), and an accepted saga cancels it', async () => {
    const { tenantId, sagaId } = await start({ acceptWithinMs: 0 });
    const held = await pool.connect();
    try {
      await held.query('begin');
      await held.query(`select 1 from payments.saga_deadlines where saga_id = $1 for update`, [sagaId]);
      const scheduler = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry });
      const due = await uow({ service: SERVICE, actor: { kind: 'system', id: 't' } }, async (tx) => (await tx.query(`select count(*)::int as n from payments.saga_deadlines where saga_id = $1 and fired_at is null`, [sagaId])).rows[0]?.n);
      assert.equal(due, 1, 'the deadline is due (0 ms) and open');
      await scheduler.fireDue();
      const { rows: open } = await pool.query(`select fired_at from payments.saga_deadlines where saga_id = $1`, [sagaId]);
      assert.equal(open[0].fired_at, null, 'the locked deadline was skipped, not waited for');
      await held.query('rollback');
    } finally {
      held.release();
    }
    await drain();
    await asTenant(tenantId, (tx) => advanceSaga(tx, registry, sagaId, { type: 'accepted' }));
    const scheduler = createDeadlineScheduler({ unitOfWork: uow, service: SERVICE, registry });
    assert.equal(await scheduler.fireDue(), 0, 'the accepted saga cancelled its deadline');
    await drain();
    assert.equal((await load(tenantId, sagaId))?.status, 'completed');
  });
});
