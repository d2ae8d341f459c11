import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { clientTx, type Tx } from '../../../src/platform/db/index.ts';
import { copyRows } from '../../../src/platform/projections/copyRows.ts';
import { rowColumns } from '../../../src/platform/projections/rowColumns.ts';
import { upsertRows } from '../../../src/platform/projections/upsertRows.ts';
import { useTestDatabase } from '../../support/db.ts';

describe('copyRows: COPY stores what the upserts store', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const columns = rowColumns(
    { id: 'uuid', name: 'text', doc: 'jsonb', n: 'bigint', at: 'timestamptz', small: 'integer', flag: 'boolean', note: 'text', last_transaction_id: 'xid8', last_position: 'bigint' },
    ['id'],
  );
  const ddl = (table: string) =>
    `create table ${table} (id uuid primary key, name text, doc jsonb not null, n bigint, at timestamptz, small integer, flag boolean, note text,
                            last_transaction_id xid8 not null, last_position bigint not null)`;
  const rows = [
    { id: randomUUID(), name: 'tab\there', doc: { lines: [{ name: 'a\\b', q: 2 }], nested: { s: 'new\nline', r: 'cr\rhere' } }, n: 2500, at: '2025-01-01T12:00:00.000Z', small: 7, flag: true, note: 'plain', last_transaction_id: '901', last_position: '17' },
    { id: randomUUID(), name: 'back\\slash \\N not null', doc: 'a json string \\ with "quotes"', n: null, at: null, small: null, flag: false, note: null, last_transaction_id: '902', last_position: 18 },
    { id: randomUUID(), name: 'ünïcödé ✓ \u0001', doc: [1, 'two', null, { t: '\t' }], n: -1, at: '2025-06-30T21:59:59.999Z', small: 0, flag: null, note: { an: 'object in a text column' }, last_transaction_id: '903', last_position: '19' },
    { id: randomUUID(), name: '', doc: null, n: 9007199254740991, at: '2024-02-29T01:02:03.004+02:00', small: -3, flag: true, note: 'line1\r\nline2', last_transaction_id: '904', last_position: '20' },
  ].map((r, i) => (i === 3 ? { ...r, doc: {} } : r));

  before(() => {
    pool = database.pool(2);
  });

  test('every kind of value (escapes, json strings, nulls) comes out the same; an object in a text column is left to the upsert', async () => {
    await pool.query(ddl('public.by_copy'));
    await pool.query(ddl('public.by_upsert'));
    const client = await pool.connect();
    try {
      const tx: Tx = clientTx(client, { service: 'ordering' });
      const left = await copyRows(client, 'public.by_copy', columns, rows);
      assert.deepEqual(left, [rows[2]], 'the row with an object in a text column is left to the upsert');
      await upsertRows(tx, 'public.by_copy', columns, left);
      await upsertRows(tx, 'public.by_upsert', columns, rows);
    } finally {
      client.release();
    }
    const read = async (table: string) => (await pool.query(`select to_jsonb(t) as row from ${table} t order by id`)).rows.map((r) => r.row);
    const copied = await read('public.by_copy');
    assert.equal(copied.length, rows.length);
    assert.deepEqual(copied, await read('public.by_upsert'));
    assert.equal(copied.find((r) => r.id === rows[1]!.id).name, 'back\\slash \\N not null');
  });

  test('a failing COPY rejects, and the connection stays usable', async () => {
    await pool.query(ddl('public.by_copy_fail'));
    const client = await pool.connect();
    try {
      await client.query('begin');
      await assert.rejects(copyRows(client, 'public.by_copy_fail', columns, [rows[0]!, rows[0]!]), /duplicate key/);
      await client.query('rollback');
      assert.equal((await client.query('select count(*)::int as n from public.by_copy_fail')).rows[0].n, 0);
    } finally {
      client.release();
    }
  });

  test('the upsert fills a column of an array type, and gives a text column the JSON text of an object', async () => {
    const tagged = rowColumns({ id: 'uuid', tags: 'text[]', note: 'text', last_transaction_id: 'xid8', last_position: 'bigint' }, ['id']);
    const plain = rowColumns({ id: 'uuid', note: 'text', last_transaction_id: 'xid8', last_position: 'bigint' }, ['id']);
    await pool.query('create table public.tagged (id uuid primary key, tags text[], note text, last_transaction_id xid8 not null, last_position bigint not null)');
    const a = { id: randomUUID(), tags: ['x', 'y, z', '"q"'], note: 'n', last_transaction_id: '1', last_position: '1' };
    const b = { id: randomUUID(), note: { an: 'object' }, last_transaction_id: '1', last_position: '2' };
    const client = await pool.connect();
    try {
      await upsertRows(clientTx(client, { service: 'ordering' }), 'public.tagged', tagged, [a]);
      await upsertRows(clientTx(client, { service: 'ordering' }), 'public.tagged', plain, [b]);
    } finally {
      client.release();
    }
    const { rows: stored } = await pool.query('select id, tags, note from public.tagged order by last_position');
    assert.deepEqual(stored, [
      { id: a.id, tags: ['x', 'y, z', '"q"'], note: 'n' },
      { id: b.id, tags: null, note: '{"an": "object"}' },
    ]);
  });
});
