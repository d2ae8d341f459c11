import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sagaSchemaSql } from '../../../src/platform/sagas/index.ts';
import { repoRoot } from '../../support/cli.ts';

describe('saga schema drift guard', () => {
  test('src/services/payments/migrations/0002_sagas.sql is exactly sagaSchemaSql({ schema: payments })', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0002_sagas.sql'), 'utf8');
    assert.equal(file, sagaSchemaSql({ schema: 'payments', role: 'brigade_payments' }));
  });
  test('refuses identifiers that are not plain lower-case names', () => {
    assert.throws(() => sagaSchemaSql({ schema: 'pay"ments', role: 'brigade_payments' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaSchemaSql({ schema: 'payments', role: 'x; drop table y' }), { code: 'VALIDATION_FAILED' });
  });
});
