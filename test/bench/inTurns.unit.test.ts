import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inTurns } from '../../bench/inTurns.ts';

test('round 1 runs the systems in their order, and each later round starts one further on', () => {
  const systems = ['brigade', 'emmett', 'pgbench'];
  assert.deepEqual(inTurns(systems, 1), ['brigade', 'emmett', 'pgbench']);
  assert.deepEqual(inTurns(systems, 2), ['emmett', 'pgbench', 'brigade']);
  assert.deepEqual(inTurns(systems, 3), ['pgbench', 'brigade', 'emmett']);
  assert.deepEqual(inTurns(systems, 4), ['brigade', 'emmett', 'pgbench']);
});

test('over as many rounds as systems, every system runs first once and last once', () => {
  const systems = ['a', 'b', 'c', 'd', 'e'];
  const rounds = systems.map((_, i) => inTurns(systems, i + 1));
  assert.deepEqual(rounds.map((r) => r[0]).sort(), systems);
  assert.deepEqual(rounds.map((r) => r.at(-1)).sort(), systems);
  for (const r of rounds) assert.deepEqual([...r].sort(), systems, 'each round runs every system once');
});

test('the list given is not changed, and an empty one gives an empty round', () => {
  const systems = Object.freeze(['a', 'b']);
  assert.deepEqual(inTurns(systems, 2), ['b', 'a']);
  assert.deepEqual(systems, ['a', 'b']);
  assert.deepEqual(inTurns([], 3), []);
});
