import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sagaActorWritesSql, sagaFailedStepsSql, sagaIdIndexSql, sagaLogSchemaSql, sagaMigrationsSql, sagaParkedSql, sagaRunnableByTypeIndexSql, sagaRunnableIndexSql, sagaSchemaSql, sagaUnfinishedIndexSql } from '../../../src/platform/sagas/index.ts';
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
  test('src/services/payments/migrations/0012_saga_id_index.sql is exactly sagaIdIndexSql({ schema: payments }), run outside a transaction', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0012_saga_id_index.sql'), 'utf8');
    assert.equal(file, sagaIdIndexSql({ schema: 'payments', role: 'brigade_payments' }));
    assert.equal(file.split('\n', 1)[0], '-- brigade:no-transaction', 'CREATE INDEX CONCURRENTLY cannot run in a transaction');
  });
  test('src/services/payments/migrations/0014_saga_parked.sql is exactly sagaParkedSql({ schema: payments })', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0014_saga_parked.sql'), 'utf8');
    assert.equal(file, sagaParkedSql({ schema: 'payments', role: 'brigade_payments' }));
  });
  test('src/services/payments/migrations/0015_saga_unfinished_parked.sql is exactly sagaUnfinishedIndexSql({ schema: payments }), run outside a transaction', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0015_saga_unfinished_parked.sql'), 'utf8');
    assert.equal(file, sagaUnfinishedIndexSql({ schema: 'payments', role: 'brigade_payments' }));
    assert.equal(file.split('\n', 1)[0], '-- brigade:no-transaction', 'CREATE INDEX CONCURRENTLY cannot run in a transaction');
  });
  test('src/services/payments/migrations/0017_saga_runnable_claimable.sql is exactly sagaRunnableIndexSql({ schema: payments }), run outside a transaction', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0017_saga_runnable_claimable.sql'), 'utf8');
    assert.equal(file, sagaRunnableIndexSql({ schema: 'payments', role: 'brigade_payments' }));
    assert.equal(file.split('\n', 1)[0], '-- brigade:no-transaction', 'CREATE INDEX CONCURRENTLY cannot run in a transaction');
  });
  test('src/services/payments/migrations/0018_saga_actor_writes.sql is exactly sagaActorWritesSql({ schema: payments }), run in a transaction', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0018_saga_actor_writes.sql'), 'utf8');
    assert.equal(file, sagaActorWritesSql({ schema: 'payments', role: 'brigade_payments' }));
    assert.notEqual(file.split('\n', 1)[0], '-- brigade:no-transaction', 'its SET LOCAL lock_timeout and its policies belong to one transaction');
  });
  test('src/services/payments/migrations/0022_saga_failed_steps.sql is exactly sagaFailedStepsSql({ schema: payments }), run in a transaction', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0022_saga_failed_steps.sql'), 'utf8');
    assert.equal(file, sagaFailedStepsSql({ schema: 'payments', role: 'brigade_payments' }));
    assert.notEqual(file.split('\n', 1)[0], '-- brigade:no-transaction', 'its SET LOCAL lock_timeout belongs to its transaction');
  });
  test('src/services/payments/migrations/0023_saga_runnable_by_type.sql is exactly sagaRunnableByTypeIndexSql({ schema: payments }), run outside a transaction', async () => {
    const file = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0023_saga_runnable_by_type.sql'), 'utf8');
    assert.equal(file, sagaRunnableByTypeIndexSql({ schema: 'payments', role: 'brigade_payments' }));
    assert.equal(file.split('\n', 1)[0], '-- brigade:no-transaction', 'CREATE INDEX CONCURRENTLY cannot run in a transaction');
  });
  test('the payments migrations hold every saga migration, in order', async () => {
    const files = ['0002_sagas.sql', '0010_saga_log.sql', '0012_saga_id_index.sql', '0014_saga_parked.sql', '0015_saga_unfinished_parked.sql', '0017_saga_runnable_claimable.sql', '0018_saga_actor_writes.sql', '0022_saga_failed_steps.sql', '0023_saga_runnable_by_type.sql'];
    const generated = sagaMigrationsSql({ schema: 'payments', role: 'brigade_payments' });
    assert.equal(generated.length, files.length, 'a new saga migration needs its file in every service that runs sagas');
    for (const [i, name] of files.entries()) {
      assert.equal(await readFile(path.join(repoRoot, 'src/services/payments/migrations', name), 'utf8'), generated[i], `${name} differs from sagaMigrationsSql()[${i}]`);
    }
  });
  test('refuses identifiers that are not plain lower-case names', () => {
    assert.throws(() => sagaSchemaSql({ schema: 'pay"ments', role: 'brigade_payments' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaSchemaSql({ schema: 'payments', role: 'x; drop table y' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaLogSchemaSql({ schema: 'payments; --', role: 'brigade_payments' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaIdIndexSql({ schema: 'payments', role: 'brigade payments' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => sagaActorWritesSql({ schema: 'payments', role: 'brigade_payments"; --' }), { code: 'VALIDATION_FAILED' });
  });
});
