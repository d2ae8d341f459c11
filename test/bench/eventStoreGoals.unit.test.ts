import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchOverrides, BRIGADE_MODES, JUDGED_MODES, ratioWithGoal, runWithheld, verdictWithheld } from '../../bench/event-store/goals.ts';

test('issue 5 judges only the modes with the outbox, the relay and the projectors in place', () => {
  const judged = BRIGADE_MODES.filter((mode) => verdictWithheld(mode, {}, 16).length === 0);
  assert.deepEqual(judged, ['appendAndCommit + projectors', 'appendAndCommit + projector worker']);
  assert.deepEqual([...JUDGED_MODES], judged);
  // The store alone and the bare append are printed for reference, saying why.
  assert.match(verdictWithheld('appendAndCommit, no outbox', {}, 16).join(), /not all of the outbox, the relay and the projectors/);
  assert.match(verdictWithheld('appendAndCommit', {}, 16).join(), /not all of the outbox, the relay and the projectors/);
});

test('a run with the relay off, another setting of the product changed, or other than 16 writers judges no mode', () => {
  for (const mode of JUDGED_MODES) {
    assert.match(verdictWithheld(mode, { BENCH_NO_RELAY: '1' }, 16).join(), /BENCH_NO_RELAY: the relay is off/);
    assert.match(verdictWithheld(mode, { BENCH_IN_FLIGHT: '3' }, 16).join(), /BENCH_IN_FLIGHT/);
    assert.match(verdictWithheld(mode, { BENCH_PROJECTOR_TURNS: '0' }, 16).join(), /BENCH_PROJECTOR_TURNS/);
    assert.match(verdictWithheld(mode, {}, 8).join(), /8 writers, not issue 5's 16/);
  }
  // How long and what to run leave the verdict alone.
  assert.deepEqual(runWithheld({ BENCH_SECONDS: '2', BENCH_ROUNDS: '1', BENCH_WARMUP_SECONDS: '1', BENCH_MODES: 'appendAndCommit', BENCH_DB_PREFIX: 'x' }, 16), []);
});

test('the header lists every BENCH_* override, sorted, and nothing else', () => {
  assert.deepEqual(benchOverrides({ PATH: '/bin', BENCH_ROUNDS: '1', BENCH_NO_RELAY: '', NATS_URL: 'nats://x', BENCH_IN_FLIGHT: '3' }), [
    'BENCH_IN_FLIGHT=3',
    'BENCH_NO_RELAY=',
    'BENCH_ROUNDS=1',
  ]);
  assert.deepEqual(benchOverrides({ PATH: '/bin' }), []);
});

test('a ratio carries its verdict only when judged, with three decimals where two would round onto the bound', () => {
  assert.equal(ratioWithGoal(2.064, "Emmett's appends/s", '1.97, 2.10', '>=', 2, true), "2.06x Emmett's appends/s [rounds 1.97, 2.10] (goal >= 2: met)");
  assert.equal(ratioWithGoal(0.5014, "Emmett's", '0.49, 0.51', '<=', 0.5, true), "0.501x Emmett's [rounds 0.49, 0.51] (goal <= 0.5: not met)");
  assert.equal(ratioWithGoal(2.73, "Emmett's appends/s", '2.44', '>=', 2, false), "2.73x Emmett's appends/s [rounds 2.44]");
});
