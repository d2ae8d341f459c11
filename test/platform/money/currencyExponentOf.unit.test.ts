import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currencyExponentOf } from '../../../src/platform/money/index.ts';

test('the ISO 4217 minor unit of a currency: two decimals, none (JPY, KRW), three (KWD, BHD), four (CLF); 2 for a code the standard does not know', () => {
  assert.deepEqual(
    ['EUR', 'GBP', 'USD', 'JPY', 'KRW', 'VND', 'KWD', 'BHD', 'TND', 'CLF', 'XXX'].map(currencyExponentOf),
    [2, 2, 2, 0, 0, 0, 3, 3, 3, 4, 2],
  );
});
