import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseByName } from '../../bench/chooseByName.ts';

const MODES = ['appendAndCommit', 'appendAndCommit + projectors', 'appendAndCommit + projector worker'] as const;

test('nothing asked for runs every name, in the benchmark order', () => {
  assert.deepEqual(chooseByName('BENCH_MODES', [], MODES), [...MODES]);
});

test('the names asked for run in the benchmark order, whatever order they were given in', () => {
  assert.deepEqual(chooseByName('BENCH_MODES', ['appendAndCommit + projector worker', 'appendAndCommit'], MODES), ['appendAndCommit', 'appendAndCommit + projector worker']);
});

test('an unknown name fails at once, naming it and every known name', () => {
  assert.throws(
    () => chooseByName('BENCH_MODES', ['appendAndCommit', 'appendAndCommit + projector'], MODES),
    (error: Error) =>
      error.message ===
      "BENCH_MODES: no such name 'appendAndCommit + projector'; choose from 'appendAndCommit', 'appendAndCommit + projectors', 'appendAndCommit + projector worker'",
  );
  // An empty name (BENCH_MODES set to nothing) is unknown too: a run with no mode is a mistake.
  assert.throws(() => chooseByName('BENCH_MODES', [''], MODES), /no such name ''/);
  assert.throws(() => chooseByName('systems', ['a', 'b'], ['c']), /^Error: systems: no such names 'a', 'b'; choose from 'c'$/);
});
