import assert from 'node:assert/strict';
import { test } from 'node:test';
import { numberFlag } from '../../src/cli/numberFlag.ts';
import { UsageError } from '../../src/cli/usage.ts';

const usage = 'Usage: brigade test';
const refused = (flag: string, raw: string, range: Parameters<typeof numberFlag>[2]) => {
  try {
    numberFlag(flag, raw, range, usage);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    assert.equal(error.usage, usage);
    return error.message;
  }
  return assert.fail(`--${flag} ${JSON.stringify(raw)} was taken`);
};

test('numberFlag: a whole number is digits only, within its range; the message says the range and the form', () => {
  assert.equal(numberFlag('limit', '1000', { min: 1, max: 10_000 }, usage), 1000);
  assert.equal(numberFlag('limit', '007', { min: 1, max: 10_000 }, usage), 7);
  for (const raw of ['1e3', '0x10', '1.0', ' 5', '5 ', '+5', '-5', '', '1_000', 'Infinity', '0', '10001']) {
    assert.equal(refused('limit', raw, { min: 1, max: 10_000 }), `--limit must be a whole number from 1 to 10000, in digits only, got ${JSON.stringify(raw)}`);
  }
  assert.equal(refused('ttl', '59', { min: 60, max: 2_592_000, unit: 'seconds', maxNote: '(30 days)' }), '--ttl must be a whole number of seconds from 60 to 2592000 (30 days), in digits only, got "59"');
});

test('numberFlag: where a fraction makes sense, digits with a decimal point; above its minimum when asked', () => {
  const rate = { min: 0, aboveMin: true, max: 1000, fraction: true } as const;
  for (const [raw, n] of [['2', 2], ['0.5', 0.5], ['.5', 0.5], ['1000', 1000]] as const) assert.equal(numberFlag('rate', raw, rate, usage), n);
  for (const raw of ['0', '5e-1', '0x1', ' 1', '1.', '1/2', '0.5.1', '-1', '1000.1']) {
    assert.equal(refused('rate', raw, rate), `--rate must be a number above 0, at most 1000, in digits, with a decimal point for a fraction (e.g. 0.5), got ${JSON.stringify(raw)}`);
  }
  assert.equal(numberFlag('declined', '0', { min: 0, max: 1, fraction: true }, usage), 0);
});
