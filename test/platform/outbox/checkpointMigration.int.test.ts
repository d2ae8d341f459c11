import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { outboxCheckpointSql, outboxSchemaSql } from '../../../src/platform/outbox/index.ts';
import { useTestDatabase } from '../../support/db.ts';

const database = useTestDatabase();
let admin: pg.Pool;
before(async () => {
  await database.ready;
  admin = database.pool(2);
});

test('the checkpoint migration carries the old marks over: the checkpoint stops before the first unmarked row', async () => {
  const scenarios: Array<{ schema: string; marked: boolean[]; expected: number }> = [
    { schema: 'ob_empty', marked: [], expected: 0 },
    { schema: 'ob_all_marked', marked: [true, true, true], expected: 3 },
    { schema: 'ob_gap', marked: [true, true, false, true, false], expected: 2 },
    { schema: 'ob_none_marked', marked: [false, false], expected: 0 },
  ];
  for (const { schema, marked, expected } of scenarios) {
    await admin.query(`create schema ${schema}`);
    await admin.query(outboxSchemaSql({ schema, role: 'brigade_delivery' }));
    for (const [i, done] of marked.entries()) {
      await admin.query(
        `insert into ${schema}.outbox (message_id, subject, aggregate_key, headers, payload, published_at) values (gen_random_uuid(), 'a.b.c', $1, '{}', null, $2)`,
        [`k${i}`, done ? new Date() : null],
      );
    }
    const ids = (await admin.query<{ id: string; xid: string }>(`select id, transaction_id::text as xid from ${schema}.outbox order by transaction_id, id`)).rows;
    await admin.query(outboxCheckpointSql({ schema, role: 'brigade_delivery' }));
    const state = (await admin.query<{ xid: string; id: string }>(`select relayed_transaction_id::text as xid, relayed_id::text as id from ${schema}.outbox_state`)).rows[0];
    const last = expected === 0 ? { id: '0', xid: '0' } : ids[expected - 1]!;
    assert.deepEqual(state, { xid: last.xid, id: last.id }, schema);
    const columns = (await admin.query(`select 1 from information_schema.columns where table_schema = $1 and table_name = 'outbox' and column_name = 'published_at'`, [schema])).rowCount;
    assert.equal(columns, 0, 'the mark column is gone');
  }
});
