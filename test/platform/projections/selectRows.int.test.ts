import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { clientTx } from '../../../src/platform/db/index.ts';
import { rowColumns } from '../../../src/platform/projections/rowColumns.ts';
import { selectRows, selectRowsSql } from '../../../src/platform/projections/selectRows.ts';
import { useTestDatabase } from '../../support/db.ts';

describe('selectRows: the rows of the given keys, one primary-key lookup each', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const columns = rowColumns({ tenant_id: 'uuid', order_id: 'text', status: 'text', last_transaction_id: 'xid8', last_position: 'bigint' }, ['tenant_id', 'order_id']);
  const tenant = randomUUID();

  before(async () => {
    pool = database.pool(2);
    // A table the planner knows nothing about (never analysed), as a view is before autovacuum gets to it.
    await pool.query(`create table public.view_rows (tenant_id uuid, order_id text, status text, last_transaction_id xid8 not null, last_position bigint not null,
                      primary key (tenant_id, order_id))`);
    await pool.query(
      `insert into public.view_rows select $1::uuid, 'o' || g, 'placed', '7'::xid8, g from generate_series(1, 5000) g`,
      [tenant],
    );
  });

  test('finds the rows that exist, skips the keys that do not, whatever the order of the keys', async () => {
    const client = await pool.connect();
    try {
      const tx = clientTx(client, { service: 'ordering', actor: { kind: 'system', id: 'test' } });
      const found = await selectRows(tx, 'public.view_rows', columns, [[tenant, 'o4999'], [randomUUID(), 'o1'], [tenant, 'missing'], [tenant, 'o2']]);
      assert.deepEqual(
        found.map((r) => [r.order_id, r.status, r.last_position]).sort(),
        [['o2', 'placed', 2], ['o4999', 'placed', 4999]],
      );
      assert.deepEqual(await selectRows(tx, 'public.view_rows', columns, []), []);
    } finally {
      client.release();
    }
  });

  test('the plan looks each key up through the primary key and never scans the table', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => ({ tenant_id: tenant, order_id: `o${i * 7 + 1}` }));
    const { rows } = await pool.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${selectRowsSql('public.view_rows', columns)}`, [JSON.stringify(keys)]);
    const plan = JSON.stringify(rows[0]!['QUERY PLAN']);
    assert.match(plan, /"Index Name":"view_rows_pkey"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    // The form it replaced, `(key) in (select … from jsonb_to_recordset(…))`, scans the table here.
    const old = await pool.query<{ 'QUERY PLAN': unknown }>(
      `explain (format json) select to_jsonb(t) from public.view_rows t
        where (t.tenant_id, t.order_id) in (select tenant_id, order_id from jsonb_to_recordset($1::jsonb) as k(tenant_id uuid, order_id text))`,
      [JSON.stringify(keys)],
    );
    assert.match(JSON.stringify(old.rows[0]!['QUERY PLAN']), /"Node Type":"Seq Scan"/);
  });
});
