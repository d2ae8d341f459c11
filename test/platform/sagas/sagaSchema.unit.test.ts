import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sagaLogSchemaSql, sagaSchemaSql } from '../../../src/platform/sagas/index.ts';
import { repoRoot } from '../../support/cli.ts';

describe('saga schema drift guard', () => {
  test('src/services/payments/migrations/0002_sagas.sql is exactly sagaSchemaSql({ schema: payments })', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0002_sagas.sql'), 'utf8');
    assert.equal(file, sagaSchemaSql({ schema: 'payments', role: 'brigade_payments' }));
  });
  test('src/services/payments/migrations/0010_saga_log.sql is exactly sagaLogSchemaSql({ schema: payments })', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0010_saga_log.sql'), 'utf8');
    assert.equal(file, sagaLogSchemaSql({ schema: 'payments', role: 'brigade_payments' }));
  });
  test('refuses identifiers that are not plain lower-case names', () => {
    assert.throws(() => sagaSchemaSql({ schema: 'pay"ments', role: 'brigade_payments' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaSchemaSql({ schema: 'payments', role: 'x; drop table y' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaLogSchemaSql({ schema: 'payments; --', role: 'brigade_payments' }), { code: 'VALIDATION_FAILED' });
  });
});
