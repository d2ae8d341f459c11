import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import { busMigrationsSql, busSchemaSql } from '../../../src/platform/messaging/index.ts';
import { outboxAppendSql, outboxInsert, outboxInsertColumnsSql, outboxMigrationsSql, outboxSchemaSql, WRITABLE_OUTBOX_COLUMNS } from '../../../src/platform/outbox/index.ts';

const services = new URL('../../../src/services/', import.meta.url);
const OUTBOX_MIGRATIONS = [
  ['platform', ['platform/migrations/0003_outbox.sql', 'platform/migrations/0006_outbox_checkpoint.sql', 'platform/migrations/0013_outbox_batch_policy.sql', 'platform/migrations/0015_outbox_relay_policy.sql', 'platform/migrations/0024_outbox_wake_isolation.sql', 'platform/migrations/0031_outbox_insert_columns.sql']],
  ['menu', ['menu/migrations/0002_outbox.sql', 'menu/migrations/0003_outbox_checkpoint.sql', 'menu/migrations/0004_outbox_batch_policy.sql', 'menu/migrations/0005_outbox_relay_policy.sql', 'menu/migrations/0009_outbox_wake_isolation.sql', 'menu/migrations/0012_outbox_insert_columns.sql']],
  ['ordering', ['ordering/migrations/0020_outbox.sql', 'ordering/migrations/0022_outbox_checkpoint.sql', 'ordering/migrations/0032_outbox_batch_policy.sql', 'ordering/migrations/0034_outbox_relay_policy.sql', 'ordering/migrations/0041_outbox_wake_isolation.sql', 'ordering/migrations/0044_outbox_insert_columns.sql']],
  ['delivery', ['delivery/migrations/0001_outbox.sql', 'delivery/migrations/0004_outbox_checkpoint.sql', 'delivery/migrations/0005_outbox_batch_policy.sql', 'delivery/migrations/0006_outbox_relay_policy.sql', 'delivery/migrations/0018_outbox_wake_isolation.sql', 'delivery/migrations/0022_outbox_insert_columns.sql']],
  ['payments', ['payments/migrations/0001_outbox.sql', 'payments/migrations/0003_outbox_checkpoint.sql', 'payments/migrations/0011_outbox_batch_policy.sql', 'payments/migrations/0013_outbox_relay_policy.sql', 'payments/migrations/0019_outbox_wake_isolation.sql', 'payments/migrations/0021_outbox_insert_columns.sql']],
] as const;

describe('outbox migrations (drift guard)', () => {
  for (const [service, files] of OUTBOX_MIGRATIONS) {
    test(`the outbox migrations of ${service} are exactly outboxMigrationsSql({ schema: '${service}' })`, async () => {
      const generated = outboxMigrationsSql({ schema: service, role: `brigade_${service}` });
      assert.equal(generated.length, files.length);
      for (const [i, file] of files.entries()) {
        assert.equal(
          await readFile(new URL(file, services), 'utf8'),
          generated[i],
          `src/services/${file} differs from outboxMigrationsSql()[${i}]. An applied migration must not change: put outbox changes in a new ` +
            'migration of every service (and a new generator), and keep each generator producing what its files applied.',
        );
      }
    });
  }

  test('src/services/platform/migrations/0004_message_bus.sql is exactly busSchemaSql()', async () => {
    const text = await readFile(new URL('platform/migrations/0004_message_bus.sql', services), 'utf8');
    assert.equal(
      text,
      busSchemaSql(),
      '0004_message_bus.sql differs from busSchemaSql() in src/platform/messaging. Change the bus schema in a new platform migration ' +
        '(and in ensureBusSchema), never in the applied file.',
    );
  });

  test('src/services/platform/migrations/0011_bus_deliveries_lean.sql is exactly the second of busMigrationsSql()', async () => {
    const text = await readFile(new URL('platform/migrations/0011_bus_deliveries_lean.sql', services), 'utf8');
    assert.equal(busMigrationsSql()[0], busSchemaSql());
    assert.equal(text, busMigrationsSql()[1], '0011_bus_deliveries_lean.sql differs from busDeliveriesLeanSql() in src/platform/messaging.');
  });
});

describe('outboxSchemaSql', () => {
  test('escapes the schema and role, and refuses anything but a lower-case identifier', () => {
    const sql = outboxSchemaSql({ schema: 'scratch_ob', role: 'brigade_menu' });
    assert.match(sql, /create table "scratch_ob"\.outbox \(/);
    assert.match(sql, /grant select, insert, update, delete on table "scratch_ob"\.outbox to "brigade_menu"/);
    assert.match(sql, /perform pg_notify\('brigade_outbox_scratch_ob', ''\)/);
    for (const bad of ['Menu', 'menu; drop table x', 'a"b', '', 'x'.repeat(64), "m'n"]) {
      assert.throws(() => outboxSchemaSql({ schema: bad, role: 'brigade_menu' }), ValidationError, bad);
      assert.throws(() => outboxSchemaSql({ schema: 'menu', role: bad }), ValidationError, bad);
    }
  });
});

describe('outboxInsertColumnsSql', () => {
  test('grants INSERT on exactly the columns the platform’s writers name, none the database assigns', () => {
    assert.deepEqual([...WRITABLE_OUTBOX_COLUMNS], ['message_id', 'subject', 'aggregate_key', 'headers', 'payload']);
    const sql = outboxInsertColumnsSql({ schema: 'delivery', role: 'brigade_delivery' });
    assert.match(sql, /^revoke insert, update on table "delivery"\.outbox from "brigade_delivery";$/m);
    assert.match(sql, /^grant insert \(message_id, subject, aggregate_key, headers, payload\) on table "delivery"\.outbox to "brigade_delivery";$/m);
    // A writer naming another column (transaction_id, id, created_at) would be refused at run time.
    const append = outboxAppendSql('delivery', 'order');
    const written = [outboxInsert('delivery', null, [{ subject: 'delivery.a.B', key: 'k', payload: null }]).statement.text, append.sql, append.batchSql ?? ''];
    for (const text of written) {
      const columns = /insert into "delivery"\.outbox \(([^)]*)\)/.exec(text)?.[1]?.split(', ');
      assert.deepEqual(columns, [...WRITABLE_OUTBOX_COLUMNS], text);
    }
  });
});
