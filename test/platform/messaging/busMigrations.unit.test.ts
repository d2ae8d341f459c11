import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { busDeadLettersUniqueSql, busFailuresAttemptsSql, busFailuresLastErrorSql, busFailuresLastFailedAtSql, busMigrationsSql, busRetentionIndexesSql, claimCheckRefsReleasedSql } from '../../../src/platform/messaging/index.ts';

const platformMigrations = new URL('../../../src/services/platform/migrations/', import.meta.url);

describe('bus migrations (drift guard)', () => {
  test('src/services/platform/migrations/0014_bus_retention_indexes.sql is exactly the third of busMigrationsSql(), run outside a transaction', async () => {
    const text = await readFile(new URL('0014_bus_retention_indexes.sql', platformMigrations), 'utf8');
    assert.equal(busMigrationsSql()[2], busRetentionIndexesSql());
    assert.equal(
      text,
      busRetentionIndexesSql(),
      '0014_bus_retention_indexes.sql differs from busRetentionIndexesSql() in src/platform/messaging. An applied migration must not ' +
        'change: put bus changes in a new platform migration (and a new generator in busMigrationsSql and ensureBusSchema).',
    );
    assert.equal(text.split('\n', 1)[0], '-- brigade:no-transaction', 'CREATE INDEX CONCURRENTLY cannot run in a transaction');
  });

  test('src/services/platform/migrations/0021_claim_check_refs_released.sql is exactly the fourth of busMigrationsSql()', async () => {
    const text = await readFile(new URL('0021_claim_check_refs_released.sql', platformMigrations), 'utf8');
    assert.equal(busMigrationsSql()[3], claimCheckRefsReleasedSql());
    assert.equal(text, claimCheckRefsReleasedSql(), '0021_claim_check_refs_released.sql differs from claimCheckRefsReleasedSql() in src/platform/messaging/claimCheck.');
  });

  test('src/services/platform/migrations/0023_bus_failures_last_error.sql is exactly the fifth of busMigrationsSql()', async () => {
    const text = await readFile(new URL('0023_bus_failures_last_error.sql', platformMigrations), 'utf8');
    assert.equal(busMigrationsSql()[4], busFailuresLastErrorSql());
    assert.equal(text, busFailuresLastErrorSql(), '0023_bus_failures_last_error.sql differs from busFailuresLastErrorSql() in src/platform/messaging.');
  });

  test('src/services/platform/migrations/0025_bus_failures_last_failed_at.sql is exactly the sixth of busMigrationsSql()', async () => {
    const text = await readFile(new URL('0025_bus_failures_last_failed_at.sql', platformMigrations), 'utf8');
    assert.equal(busMigrationsSql()[5], busFailuresLastFailedAtSql());
    assert.equal(text, busFailuresLastFailedAtSql(), '0025_bus_failures_last_failed_at.sql differs from busFailuresLastFailedAtSql() in src/platform/messaging.');
  });

  test('src/services/platform/migrations/0029_bus_failures_attempts.sql is exactly the seventh of busMigrationsSql()', async () => {
    const text = await readFile(new URL('0029_bus_failures_attempts.sql', platformMigrations), 'utf8');
    assert.equal(busMigrationsSql()[6], busFailuresAttemptsSql());
    assert.equal(text, busFailuresAttemptsSql(), '0029_bus_failures_attempts.sql differs from busFailuresAttemptsSql() in src/platform/messaging.');
  });

  test('src/services/platform/migrations/0030_bus_dead_letters_unique.sql is exactly the eighth and last of busMigrationsSql()', async () => {
    const text = await readFile(new URL('0030_bus_dead_letters_unique.sql', platformMigrations), 'utf8');
    assert.equal(busMigrationsSql().length, 8);
    assert.equal(busMigrationsSql()[7], busDeadLettersUniqueSql());
    assert.equal(text, busDeadLettersUniqueSql(), '0030_bus_dead_letters_unique.sql differs from busDeadLettersUniqueSql() in src/platform/messaging.');
  });

  test('the in-transaction form (ensureBusSchema) builds the same indexes as the migration', () => {
    const indexes = (sql: string) =>
      [...sql.matchAll(/^create index (?:concurrently |if not exists )(\w+) on (.+);$/gm)].map((m) => `${m[1]} on ${m[2]}`);
    const migration = indexes(busRetentionIndexesSql());
    assert.equal(migration.length, 3);
    assert.deepEqual(indexes(busRetentionIndexesSql({ concurrently: false })), migration);
    assert.doesNotMatch(busRetentionIndexesSql({ concurrently: false }), /concurrently|brigade:no-transaction/);
  });
});
