import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applySagaEvent, defineSaga, type SagaInstance } from '../../../src/platform/sagas/index.ts';
import { applySagaStart, statusBeforePark } from '../../../src/platform/sagas/applySagaEvent.ts';

const noop = async () => null;
const saga = defineSaga<{ n: number }, null>({
  name: 'unit',
  initialState: { n: 0 },
  start: () => ({ run: ['a', 'b'] }),
  steps: { a: { action: noop, compensate: noop }, b: { action: noop }, c: { action: noop, compensate: noop }, d: { action: noop } },
  on: {
    'a.succeeded': (s) => ({ state: { n: s.n + 1 } }),
    'b.succeeded': () => ({ run: ['c'] }),
    'c.succeeded': () => ({ complete: true }),
    'd.failed': (s) => ({ state: { n: s.n + 10 }, park: 'd failed: do it by hand', fail: 'ignored: park wins' }),
    again: () => ({ run: ['a'] }),
    note: (s) => ({ state: { n: s.n + 100 }, cancel: ['later'] }),
    more: () => ({ run: ['c'] }),
    early: () => ({ complete: true }),
    stop: () => ({ fail: 'stopped' }),
    hold: (s) => ({ state: { n: s.n + 1000 }, park: 'held for a person' }),
  },
});
const instance = (over: Partial<SagaInstance<{ n: number }>>): SagaInstance<{ n: number }> => ({
  tenantId: 't', id: 's', name: 'unit', state: { n: 0 }, version: 1, status: 'running', pending: [], completed: [], failed: [], attempts: 0, error: null, errorBeforePark: null, ...over,
});

describe('applySagaEvent (the saga decide function)', () => {
  test('a step outcome pops the head, records the step and applies its handler', () => {
    const t = applySagaEvent(saga, instance({ pending: ['a', 'b'] }), { kind: 'stepSucceeded', item: 'a', result: null });
    assert.deepEqual([t?.pending, t?.completed, t?.state], [['b'], ['a'], { n: 1 }]);
  });
  test('an outcome for an item that is not the head is stale and changes nothing', () => {
    assert.equal(applySagaEvent(saga, instance({ pending: ['b'] }), { kind: 'stepSucceeded', item: 'a', result: null }), null);
  });
  test('a final failure compensates the completed steps that have compensations, in reverse order', () => {
    const t = applySagaEvent(saga, instance({ pending: ['c'], completed: ['a', 'b'] }), { kind: 'stepFailed', item: 'c', error: { code: 'X', message: 'no' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.error, t?.cancel], ['compensating', ['undo:a'], 'c failed: no', 'all']);
    const done = applySagaEvent(saga, instance({ status: 'compensating', pending: ['undo:a'], completed: ['a', 'b'] }), { kind: 'stepSucceeded', item: 'undo:a', result: null });
    assert.equal(done?.status, 'compensated');
  });
  test('a retryable failure keeps the item at the head and counts the attempt', () => {
    const t = applySagaEvent(saga, instance({ pending: ['a'], attempts: 1 }), { kind: 'stepFailed', item: 'a', error: { code: 'X', message: 'slow' }, retry: true });
    assert.deepEqual([t?.pending, t?.attempts, t?.status], [['a'], 2, 'running']);
  });
  test('a .failed handler that parks: status parked, the step kept at the head with its attempts, nothing compensated, deadlines left open', () => {
    const t = applySagaEvent(saga, instance({ pending: ['d', 'b'], completed: ['a'], attempts: 2 }), { kind: 'stepFailed', item: 'd', error: { code: 'X', message: 'down' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.completed, t?.attempts, t?.error, t?.cancel, t?.state], ['parked', ['d', 'b'], ['a'], 3, 'd failed: do it by hand', [], { n: 10 }]);
    // A runner whose lease had ended reports d's success late: it happened, so it is recorded; the saga stays parked.
    const late = applySagaEvent(saga, instance({ ...t!, version: 2 }), { kind: 'stepSucceeded', item: 'd', result: null });
    assert.deepEqual([late?.status, late?.pending, late?.completed, late?.error], ['parked', ['b'], ['a', 'd'], 'd failed: do it by hand']);
  });
  test("a forward step in flight when an event failed the saga, that then fails for good, is asked of its .failed handler: a park keeps it at the head for a person (before: dropped unasked, the saga compensated around a possible effect)", () => {
    const failing = applySagaEvent(saga, instance({ pending: ['d'], completed: ['a'] }), { kind: 'event', event: { type: 'stop' } });
    assert.deepEqual([failing?.status, failing?.pending], ['compensating', ['d', 'undo:a']]);
    const compensating = instance({ ...failing!, version: 2, attempts: 1 });
    const t = applySagaEvent(saga, compensating, { kind: 'stepFailed', item: 'd', error: { code: 'TIMEOUT', message: 'outcome unknown' }, retry: false });
    assert.deepEqual(
      [t?.status, t?.pending, t?.completed, t?.attempts, t?.error, t?.errorBeforePark, t?.state, t?.cancel],
      ['parked', ['d', 'undo:a'], ['a'], 2, 'd failed: do it by hand', 'stopped', { n: 10 }, []],
    );
    assert.equal(statusBeforePark(t!), 'compensating', 'a resume goes on compensating, with the reason it failed');
    // A step whose handler does not park (here: none) is dropped as before: a failure leaves nothing to undo.
    const plain = applySagaEvent(saga, instance({ status: 'compensating', pending: ['b', 'undo:a'], completed: ['a'], error: 'stopped' }), { kind: 'stepFailed', item: 'b', error: { code: 'X', message: 'no' }, retry: false });
    assert.deepEqual([plain?.status, plain?.pending, plain?.error], ['compensating', ['undo:a'], 'stopped']);
  });
  test("an event parks the saga while its head step is in flight: the step's outcome is still taken (before, it was dropped and a resume ran the step again), and the saga stays parked while work is left", () => {
    const parked = applySagaEvent(saga, instance({ pending: ['a', 'b'] }), { kind: 'event', event: { type: 'hold' } });
    assert.deepEqual([parked?.status, parked?.pending, parked?.error, parked?.state], ['parked', ['a', 'b'], 'held for a person', { n: 1000 }]);
    const held = instance({ ...parked!, version: 2 });
    const succeeded = applySagaEvent(saga, held, { kind: 'stepSucceeded', item: 'a', result: null });
    assert.deepEqual(
      [succeeded?.status, succeeded?.pending, succeeded?.completed, succeeded?.state, succeeded?.error, succeeded?.errorBeforePark],
      ['parked', ['b'], ['a'], { n: 1001 }, 'held for a person', null],
    );
    const retrying = applySagaEvent(saga, held, { kind: 'stepFailed', item: 'a', error: { code: 'X', message: 'slow' }, retry: true });
    assert.deepEqual([retrying?.status, retrying?.pending, retrying?.attempts], ['parked', ['a', 'b'], 1]);
    const failed = applySagaEvent(saga, instance({ ...held, completed: ['c'] }), { kind: 'stepFailed', item: 'a', error: { code: 'X', message: 'no' }, retry: false });
    assert.deepEqual([failed?.status, failed?.pending, failed?.error, failed?.errorBeforePark], ['parked', ['undo:c'], 'held for a person', 'a failed: no'], 'a failure queues the compensations under the park');
    const unrecorded = applySagaEvent(saga, held, { kind: 'park', item: 'a', reason: 'a: its outcome cannot be recorded' });
    assert.deepEqual(
      [unrecorded?.status, unrecorded?.pending, unrecorded?.error],
      ['parked', ['a', 'b'], 'held for a person; then a: its outcome cannot be recorded'],
      'an outcome its runner cannot record is written as a park (the head runs again after the resume; the write releases the lease)',
    );
    // Waiting for events with nothing queued, it stays parked: the person decides (before this, it went back to running).
    const waiting = applySagaEvent(saga, instance({ ...held, pending: ['a'] }), { kind: 'stepSucceeded', item: 'a', result: null });
    assert.deepEqual([waiting?.status, waiting?.pending, waiting?.error], ['parked', [], 'held for a person']);
    // An outcome that finishes the saga ends it as it would have.
    const last = applySagaEvent(saga, instance({ status: 'parked', pending: ['c'], completed: ['a', 'b'], error: 'held for a person' }), { kind: 'stepSucceeded', item: 'c', result: null });
    assert.deepEqual([last?.status, last?.pending], ['completed', []]);
    // Parked with nothing left to run, an event that completes it ends it (kept parked, a resume left it running for ever).
    const early = applySagaEvent(saga, instance({ ...waiting!, status: 'parked', version: 3 }), { kind: 'event', event: { type: 'early' } });
    assert.deepEqual([early?.status, early?.pending, early?.error], ['completed', [], null], "its park's instructions go with it");
    const reparked = applySagaEvent(saga, instance({ status: 'parked', pending: ['d'], completed: ['a'], error: 'held for a person' }), { kind: 'stepFailed', item: 'd', error: { code: 'X', message: 'down' }, retry: false });
    assert.deepEqual([reparked?.status, reparked?.error], ['parked', 'held for a person; then d failed: do it by hand'], "a handler that parks again adds its reason to the event's");
  });
  test('a parked saga takes events as if its head were in flight, and stays parked: state and deadlines kept, steps queued behind the head, a fail queues the compensations', () => {
    const parked = instance({ status: 'parked', pending: ['d', 'b'], completed: ['a'], attempts: 3, error: 'd failed: do it by hand', state: { n: 10 } });
    const noted = applySagaEvent(saga, parked, { kind: 'event', event: { type: 'note' } });
    assert.deepEqual([noted?.status, noted?.pending, noted?.attempts, noted?.state, noted?.cancel, noted?.error], ['parked', ['d', 'b'], 3, { n: 110 }, ['later'], 'd failed: do it by hand']);
    assert.deepEqual(applySagaEvent(saga, parked, { kind: 'event', event: { type: 'more' } })?.pending, ['d', 'b', 'c'], 'run after the head, once resumed');
    const stopped = applySagaEvent(saga, parked, { kind: 'event', event: { type: 'stop' } });
    assert.deepEqual(
      [stopped?.status, stopped?.pending, stopped?.error, stopped?.errorBeforePark, stopped?.cancel],
      ['parked', ['d', 'undo:a'], 'd failed: do it by hand', 'stopped', 'all'],
      'the head first (its outcome is unknown), then the compensations; the park reason stays, the failure is kept for the resume',
    );
    assert.equal(applySagaEvent(saga, instance({ ...stopped!, version: 2 }), { kind: 'event', event: { type: 'note' } }), null, 'parked while compensating: no more business events');
  });
  test('a parked saga that an event failed with nothing to undo is compensating under its park: it takes no more business events, and the resumed step is not carried on', () => {
    const parked = instance({ status: 'parked', pending: ['b'], completed: [], attempts: 2, error: 'b: ask a person' });
    assert.equal(statusBeforePark(parked), 'running');
    const stopped = applySagaEvent(saga, parked, { kind: 'event', event: { type: 'stop' } });
    assert.deepEqual([stopped?.status, stopped?.pending, stopped?.error, stopped?.errorBeforePark], ['parked', ['b'], 'b: ask a person', 'stopped'], 'no undo: item: only the failure kept says it failed');
    const failedParked = instance({ ...stopped!, version: 2 });
    assert.equal(statusBeforePark(failedParked), 'compensating', 'what a resume restores');
    assert.equal(applySagaEvent(saga, failedParked, { kind: 'event', event: { type: 'note' } }), null, 'no more business events');
    const resumed = instance({ ...failedParked, status: statusBeforePark(failedParked), error: failedParked.errorBeforePark, errorBeforePark: null, version: 3 });
    const landed = applySagaEvent(saga, resumed, { kind: 'stepSucceeded', item: 'b', result: null });
    assert.deepEqual([landed?.status, landed?.pending, landed?.completed], ['compensated', [], ['b']], "b.succeeded's run of c is not acted on, and nothing is left to undo");
  });
  test('a saga cannot park with nothing pending (a resume would have nothing to run)', () => {
    const parky = defineSaga<{ n: number }, null>({ name: 'parky', initialState: { n: 0 }, start: () => ({}), steps: {}, on: { hold: () => ({ park: 'hold' }) } });
    assert.throws(() => applySagaEvent(parky, instance({ name: 'parky' }), { kind: 'event', event: { type: 'hold' } }), { code: 'SAGA_DEFINITION_INVALID' });
  });
  test('an event fails the saga while a step may be running: the step stays first, its success is recorded and undone before the others', () => {
    const failed = applySagaEvent(saga, instance({ pending: ['c'], completed: ['a', 'b'], attempts: 1 }), { kind: 'event', event: { type: 'stop' } });
    assert.deepEqual([failed?.status, failed?.pending, failed?.attempts, failed?.error], ['compensating', ['c', 'undo:a'], 1, 'stopped']);
    const late = instance({ ...failed!, version: 2 });
    const succeeded = applySagaEvent(saga, late, { kind: 'stepSucceeded', item: 'c', result: null });
    assert.deepEqual([succeeded?.status, succeeded?.pending, succeeded?.completed], ['compensating', ['undo:c', 'undo:a'], ['a', 'b', 'c']], "c.succeeded's complete is not acted on");
    const gaveUp = applySagaEvent(saga, late, { kind: 'stepFailed', item: 'c', error: { code: 'X', message: 'no' }, retry: false });
    assert.deepEqual([gaveUp?.status, gaveUp?.pending, gaveUp?.completed], ['compensating', ['undo:a'], ['a', 'b']], 'a failure leaves nothing to undo');
    const stepFails = applySagaEvent(saga, instance({ pending: ['c', 'b'], completed: ['a'] }), { kind: 'stepFailed', item: 'c', error: { code: 'X', message: 'no' }, retry: false });
    assert.deepEqual(stepFails?.pending, ['undo:a'], 'a step that failed is not running: the next one is dropped, not run');
  });
  test('a failed compensation leaves the saga failed for a person to look at', () => {
    const t = applySagaEvent(saga, instance({ status: 'compensating', pending: ['undo:a'], completed: ['a'], error: 'why' }), { kind: 'stepFailed', item: 'undo:a', error: { code: 'X', message: 'gone' }, retry: false });
    assert.equal(t?.status, 'failed');
    assert.match(t?.error ?? '', /why; compensation a failed: gone/);
  });
  test('a compensation that fails for good keeps itself and the compensations behind it pending, in order, and names them (before: pending [], undo:a dropped)', () => {
    const t = applySagaEvent(saga, instance({ status: 'compensating', pending: ['undo:c', 'undo:a'], completed: ['a', 'b', 'c'], attempts: 2, error: 'why' }), {
      kind: 'stepFailed',
      item: 'undo:c',
      error: { code: 'X', message: 'gone' },
      retry: false,
    });
    assert.deepEqual([t?.status, t?.pending, t?.completed, t?.attempts, t?.cancel], ['failed', ['undo:c', 'undo:a'], ['a', 'b', 'c'], 3, 'all']);
    assert.equal(t?.error, 'why; compensation c failed: gone; left: undo:c, undo:a');
    assert.equal(applySagaEvent(saga, instance({ ...t!, version: 2 }), { kind: 'stepSucceeded', item: 'undo:c', result: null }), null, 'a failed saga takes no outcome: it runs nothing more');
  });
  test('a step runs at most once; completing with work pending and unknown events are refused', () => {
    assert.throws(() => applySagaEvent(saga, instance({ completed: ['a'] }), { kind: 'event', event: { type: 'again' } }), { code: 'SAGA_DEFINITION_INVALID' });
    assert.throws(() => applySagaEvent(saga, instance({ pending: ['b'] }), { kind: 'event', event: { type: 'early' } }), { code: 'SAGA_DEFINITION_INVALID' });
    assert.throws(() => applySagaEvent(saga, instance({}), { kind: 'event', event: { type: 'nope' } }), { code: 'SAGA_EVENT_UNHANDLED' });
  });
  test('a handler whose state JSON cannot hold (a BigInt, a cycle, a toJSON that throws, a function) is a SagaHandlerError naming it, not a TypeError from the write (before: a plain TypeError, which the runner and the scheduler took for a passing failure)', () => {
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    const states: Record<string, unknown> = { bigint: { n: 10n }, cyclic, throwing: { n: 1, toJSON: () => { throw new Error('no JSON here'); } }, fn: () => 1 };
    const bad = defineSaga<unknown, null>({
      name: 'badstate',
      initialState: {},
      start: () => ({}),
      steps: { a: { action: noop } },
      on: Object.fromEntries(Object.entries(states).map(([type, state]) => [type, () => ({ state })])),
    });
    for (const type of Object.keys(states)) {
      assert.throws(() => applySagaEvent(bad, instance({ name: 'badstate' }), { kind: 'event', event: { type } }), (e: Error & { code?: string }) =>
        e.code === 'SAGA_HANDLER_FAILED' && e.message.startsWith(`The handler of "${type}" in saga badstate returned a state that cannot be stored as JSON`), type);
    }
    const startsBig = defineSaga<unknown, null>({ name: 'startbig', initialState: {}, start: () => ({ state: { n: 1n } }), steps: {}, on: {} });
    assert.throws(() => applySagaStart(startsBig, null), { code: 'SAGA_HANDLER_FAILED' }, 'start is a handler too');
  });
  test("a step's .failed handler cannot run that step again: it failed for good under its key, and a step runs at most once (before: queued again, to run under the same key)", () => {
    const retrier = defineSaga<{ n: number }, null>({
      name: 'retrier',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: noop }, b: { action: noop } },
      on: { 'a.failed': () => ({ run: ['a'] }), 'b.failed': () => ({ run: ['a'] }) },
    });
    const failed = (over: Partial<SagaInstance<{ n: number }>>, item = 'a') =>
      applySagaEvent(retrier, instance({ name: 'retrier', ...over }), { kind: 'stepFailed', item, error: { code: 'DECLINED', message: 'declined' }, retry: false });
    const refused = (e: Error & { code?: string }) =>
      e.code === 'SAGA_DEFINITION_INVALID' && e.message.startsWith('Step a of saga retrier failed for good, and its handler "a.failed" runs it again: a step runs at most once per saga');
    assert.throws(() => failed({ pending: ['a'] }), refused);
    assert.throws(() => failed({ status: 'parked', pending: ['a'], error: 'held' }), refused, 'its outcome under a park is decided as unparked');
    // Another step's failure may queue a step that has not run (the once-only rule is per step).
    assert.deepEqual(failed({ pending: ['b'] }, 'b')?.pending, ['a']);
  });
  test('a step that failed for good stays failed: no later decision (an event, another step, a deadline) runs it again, and a success or a retry does not forget it (before: the instance did not remember it, and a later event queued it under the key it failed with)', () => {
    const goesOn = defineSaga<{ n: number }, null>({
      name: 'goeson',
      initialState: { n: 0 },
      start: () => ({ run: ['a'] }),
      steps: { a: { action: noop }, b: { action: noop } },
      on: { 'a.failed': () => ({ run: ['b'] }), again: () => ({ run: ['a'] }), 'b.succeeded': () => ({ run: ['a'] }) },
    });
    const of = (over: Partial<SagaInstance<{ n: number }>>) => instance({ name: 'goeson', ...over });
    const failed = applySagaEvent(goesOn, of({ pending: ['a'] }), { kind: 'stepFailed', item: 'a', error: { code: 'DECLINED', message: 'declined' }, retry: false });
    assert.deepEqual([failed?.status, failed?.pending, failed?.completed, failed?.failed], ['running', ['b'], [], ['a']], 'the saga goes on, a kept as failed for good');
    const after = of({ pending: failed?.pending, failed: failed?.failed });
    const refused = (e: Error & { code?: string }) =>
      e.code === 'SAGA_DEFINITION_INVALID' && e.message.startsWith('Step a of saga goeson failed for good earlier, and this decision runs it again: a step runs at most once per saga');
    assert.throws(() => applySagaEvent(goesOn, after, { kind: 'event', event: { type: 'again' } }), refused, 'a later event');
    assert.throws(() => applySagaEvent(goesOn, after, { kind: 'stepSucceeded', item: 'b', result: null }), refused, "another step's handler");
    const retried = applySagaEvent(goesOn, after, { kind: 'stepFailed', item: 'b', error: { code: 'X', message: 'x' }, retry: true });
    assert.deepEqual(retried?.failed, ['a'], 'a retry of another step keeps it');
  });
  test('a finished saga takes nothing', () => {
    assert.equal(applySagaEvent(saga, instance({ status: 'completed' }), { kind: 'event', event: { type: 'again' } }), null);
  });
});
