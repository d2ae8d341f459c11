import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defineSaga } from '../../../src/platform/sagas/index.ts';

const withStep = (step: Record<string, unknown>) => () =>
  defineSaga<null, null>({ name: 'limits', initialState: null, start: () => ({}), steps: { a: { action: async () => null, ...step } }, on: {} });

describe('defineSaga checks a step\'s limits once, at definition', () => {
  test('timeoutMs is a whole number of ms from 1 to 2^31 − 1 (a longer one would make setTimeout fire at once)', () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      assert.throws(withStep({ timeoutMs }), { code: 'SAGA_DEFINITION_INVALID', message: /^timeoutMs of step a of saga limits must be a whole number of ms from 1 to 2147483647$/ }, String(timeoutMs));
    }
    for (const timeoutMs of [1, 300_000, 2 ** 31 - 1]) assert.equal(withStep({ timeoutMs })().steps.a?.timeoutMs, timeoutMs);
  });
  test('maxAttempts is a whole number, 1 or more', () => {
    assert.throws(withStep({ maxAttempts: 0 }), { code: 'SAGA_DEFINITION_INVALID' });
    assert.equal(withStep({ maxAttempts: 3 })().steps.a?.maxAttempts, 3);
  });
});
