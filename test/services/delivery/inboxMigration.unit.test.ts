import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { inboxRetentionSql, inboxSchemaSql } from '../../../src/platform/messaging/index.ts';

test('the delivery inbox migration holds exactly what inboxSchemaSql generates (drift guard)', async () => {
  const migration = await readFile(new URL('../../../src/services/delivery/migrations/0003_inbox.sql', import.meta.url), 'utf8');
  assert.ok(migration.includes(inboxSchemaSql('delivery').trim()), 'regenerate 0003_inbox.sql from inboxSchemaSql(\'delivery\')');
});

test('the delivery inbox retention migration is exactly what inboxRetentionSql generates (drift guard)', async () => {
  const migration = await readFile(new URL('../../../src/services/delivery/migrations/0021_inbox_retention.sql', import.meta.url), 'utf8');
  assert.equal(migration, inboxRetentionSql('delivery'), "regenerate 0021_inbox_retention.sql from inboxRetentionSql('delivery')");
});
