import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { createUpcasters, eventStoreMigrationsSql, eventStoreSchemaSql, uuidv7 } from '../../../src/platform/events/index.ts';
import { ValidationError } from '../../../src/platform/errors/index.ts';

const migrations = ['0001_event_store.sql', '0021_append_events_raises.sql', '0031_merged_appends.sql', '0035_events_cross_tenant_read_policy.sql', '0038_events_insert_columns.sql', '0040_events_recorded_at_statement_time.sql', '0043_events_recorded_at_not_writable.sql'].map((f) => new URL(`../../../src/services/ordering/migrations/${f}`, import.meta.url));

describe('eventStoreSchemaSql', () => {
  test('the ordering migrations are exactly the generators’ output (drift guard)', async () => {
    const generated = eventStoreMigrationsSql({ schema: 'ordering', role: 'brigade_ordering' });
    assert.equal(generated.length, migrations.length);
    for (const [i, url] of migrations.entries()) {
      assert.equal(
        await readFile(url, 'utf8'),
        generated[i],
        `${url.pathname} differs from eventStoreMigrationsSql()[${i}]. An applied migration must not change: ` +
          'put schema changes in a new migration (and a new generator), and keep each generator producing what its file applied.',
      );
    }
  });

  test('the schema and role are escaped identifiers and anything else is refused', () => {
    const sql = eventStoreSchemaSql({ schema: 'scratch_es', role: 'brigade_menu' });
    assert.match(sql, /create table "scratch_es"\.events/);
    assert.match(sql, /grant select, insert on table "scratch_es"\.events to "brigade_menu"/);
    assert.match(sql, /revoke all on table "scratch_es"\.events from "brigade_menu"/);
    for (const bad of ['Ordering', 'ordering; drop table x', 'a"b', '', 'x'.repeat(64)]) {
      assert.throws(() => eventStoreSchemaSql({ schema: bad, role: 'brigade_ordering' }), ValidationError, bad);
      assert.throws(() => eventStoreSchemaSql({ schema: 'ordering', role: bad }), ValidationError, bad);
    }
  });
});

describe('createUpcasters', () => {
  const meta = {
    messageId: uuidv7(), correlationId: uuidv7(), causationId: null, tenantId: uuidv7(), actor: null, source: 'ordering',
    occurredAt: '2024-01-01T00:00:00.000Z', recordedAt: '2024-01-01T00:00:00.000Z',
  };
  const upcasters = createUpcasters([
    { type: 'OrderPlaced', fromVersion: 2, upcast: (d) => ({ ...(d as object), total: { amount: (d as { totalCents: number }).totalCents, currency: (d as { currency: string }).currency } }) },
    { type: 'OrderPlaced', fromVersion: 1, upcast: (d) => ({ ...(d as object), currency: 'EUR' }) },
  ]);

  test('chains v1 → v2 → v3 whatever order they were registered in', () => {
    assert.deepEqual(upcasters.apply('OrderPlaced', 1, { totalCents: 1250 }, meta), {
      data: { totalCents: 1250, currency: 'EUR', total: { amount: 1250, currency: 'EUR' } },
      schemaVersion: 3,
    });
    assert.equal(upcasters.currentVersion('OrderPlaced'), 3);
  });

  test('leaves current versions and other types alone', () => {
    const current = { totalCents: 1, currency: 'GBP', total: { amount: 1, currency: 'GBP' } };
    assert.deepEqual(upcasters.apply('OrderPlaced', 3, current, meta), { data: current, schemaVersion: 3 });
    assert.deepEqual(upcasters.apply('OrderPicked', 1, { a: 1 }, meta), { data: { a: 1 }, schemaVersion: 1 });
    assert.equal(upcasters.currentVersion('OrderPicked'), 1);
  });

  test('two upcasters for one (type, version) are an error', () => {
    assert.throws(
      () => createUpcasters([{ type: 'X', fromVersion: 1, upcast: (d) => d }, { type: 'X', fromVersion: 1, upcast: (d) => d }]),
      ValidationError,
    );
  });

  test('a gap in a chain is an error (v1 and v3 without v2)', () => {
    assert.throws(
      () => createUpcasters([{ type: 'X', fromVersion: 1, upcast: (d) => d }, { type: 'X', fromVersion: 3, upcast: (d) => d }]),
      (e: unknown) => e instanceof ValidationError && /^Missing upcaster for X v2 → v3: /.test(e.message) && e.details['type'] === 'X' && e.details['fromVersion'] === 2,
    );
  });

  test('a chain that starts above v1 is an error: stored v1 events would stay at v1', () => {
    // Writers store schemaVersion 1 unless they name another, so a type's events start at v1; a chain
    // from v2 on would hand its v1 events to the reader unchanged, below the current version.
    for (const list of [
      [{ type: 'Y', fromVersion: 2, upcast: (d: unknown) => d }, { type: 'Y', fromVersion: 3, upcast: (d: unknown) => d }],
      [{ type: 'Y', fromVersion: 2, upcast: (d: unknown) => d }],
    ]) {
      assert.throws(
        () => createUpcasters(list),
        (e: unknown) => e instanceof ValidationError && /^Missing upcaster for Y v1 → v2: /.test(e.message) && e.details['type'] === 'Y' && e.details['fromVersion'] === 1,
      );
    }
  });
});

describe('uuidv7', () => {
  test('is a version-7, variant-10 UUID that sorts by creation', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...ids].sort(), ids, 'ids of one process increase');
    assert.equal(new Set(ids).size, ids.length);
    const at = Date.UTC(2030, 0, 1);
    assert.equal(parseInt(uuidv7(at).replace(/-/g, '').slice(0, 12), 16), at, 'the first 48 bits are the milliseconds');
  });
});
