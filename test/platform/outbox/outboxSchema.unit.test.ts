import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import { busSchemaSql } from '../../../src/platform/messaging/index.ts';
import { outboxSchemaSql } from '../../../src/platform/outbox/index.ts';

const services = new URL('../../../src/services/', import.meta.url);
const OUTBOX_MIGRATIONS = [
  ['platform', 'platform/migrations/0003_outbox.sql'],
  ['menu', 'menu/migrations/0002_outbox.sql'],
  ['ordering', 'ordering/migrations/0020_outbox.sql'],
  ['delivery', 'delivery/migrations/0001_outbox.sql'],
  ['payments', 'payments/migrations/0001_outbox.sql'],
] as const;

describe('outbox migrations (drift guard)', () => {
  for (const [service, file] of OUTBOX_MIGRATIONS) {
    test(`src/services/${file} is exactly outboxSchemaSql({ schema: '${service}' })`, async () => {
      const text = await readFile(new URL(file, services), 'utf8');
      assert.equal(
        text,
        outboxSchemaSql({ schema: service, role: `brigade_${service}` }),
        `src/services/${file} differs from outboxSchemaSql(). An applied migration must not change: put outbox changes in a new ` +
          'migration of every service, and keep the generator producing what these files applied.',
      );
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
