import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { takeTurns } from '../../../src/platform/runtime/takeTurns.ts';

/** A promise and the function that resolves it. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};
/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('takeTurns: work of several loops, one piece at a time', () => {
  test('a piece starts only when the one before it has finished, in the order they were handed in', async () => {
    const turns = takeTurns();
    const started: string[] = [];
    const gates = { a: gate(), b: gate(), c: gate() };
    const piece = (name: keyof typeof gates) => turns.run(async () => {
      started.push(name);
      await gates[name].opened;
      return name;
    });
    const results = [piece('a'), piece('b'), piece('c')];
    await settle();
    assert.deepEqual(started, ['a']);
    assert.equal(turns.waiting, 3);
    gates.b.open(); // b may finish its wait early, but does not start before a is done
    await settle();
    assert.deepEqual(started, ['a']);
    gates.a.open();
    assert.equal(await results[0], 'a');
    assert.equal(await results[1], 'b');
    await settle();
    assert.deepEqual(started, ['a', 'b', 'c']);
    gates.c.open();
    assert.equal(await results[2], 'c');
    assert.equal(turns.waiting, 0);
  });

  test('a piece that fails rejects its own caller and passes the turn on', async () => {
    const turns = takeTurns();
    const failing = turns.run(async () => {
      throw new Error('batch failed');
    });
    const next = turns.run(async () => 'next ran');
    await assert.rejects(failing, /batch failed/);
    assert.equal(await next, 'next ran');
    assert.equal(turns.waiting, 0);
  });

  test('separate turns do not wait for each other', async () => {
    const held = gate();
    const first = takeTurns();
    const second = takeTurns();
    const blocked = first.run(() => held.opened);
    assert.equal(await second.run(async () => 'ran'), 'ran');
    held.open();
    await blocked;
  });
});
