import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createEventStore } from '../../../src/platform/events/index.ts';
import { outboxAppendSql, writeToOutbox } from '../../../src/platform/outbox/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { TENANT } from './support.ts';

const OUTBOXES = ['platform', 'menu', 'ordering', 'delivery', 'payments'] as const;
const database = useTestDatabase();
let pool: pg.Pool;

before(async () => {
  await database.ready;
  pool = database.pool(4);
});

const asProducer = { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff' as const, id: TENANT } };
/** The relay's identity: the policy lets actor kind system read, update and delete. */
const asSystem = { service: 'delivery', actor: { kind: 'system' as const, id: 'forger' } };
const refused = (e: unknown) => (e as { code?: string }).code === '42501' && /permission denied for table outbox/.test((e as Error).message);

describe('who may write which outbox columns (decisions 0011, 0035)', () => {
  test('every service role inserts only the columns a producer names, and updates nothing', async () => {
    for (const schema of OUTBOXES) {
      const role = `brigade_${schema}`;
      const { rows } = await pool.query<{ column_name: string }>(
        `select column_name from information_schema.columns
          where table_schema = $1 and table_name = 'outbox' and has_column_privilege($2, format('%I.outbox', $1::text), column_name, 'INSERT')
          order by ordinal_position`,
        [schema, role],
      );
      assert.deepEqual(rows.map((r) => r.column_name), ['message_id', 'subject', 'aggregate_key', 'headers', 'payload'], `${schema}: insertable columns`);
      const { rows: table } = await pool.query<{ p: string; granted: boolean }>(
        `select p, has_table_privilege($2, format('%I.outbox', $1::text), p) as granted from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as p`,
        [schema, role],
      );
      assert.deepEqual(Object.fromEntries(table.map((r) => [r.p, r.granted])), { SELECT: true, INSERT: false, UPDATE: false, DELETE: true, TRUNCATE: false }, `${schema}: table privileges`);
    }
  });

  test('a producer cannot place a message at or before the relay’s checkpoint: transaction_id, id and created_at are the database’s', async () => {
    const values = `gen_random_uuid(), 'delivery.forged.Step', 'f', jsonb_build_object('tenant', '${TENANT}'), null`;
    const forged = [
      // Sorts before every checkpoint: the relay would never claim it, and the depth gauge would not count it.
      `insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload) values ('3'::xid8, ${values})`,
      `insert into delivery.outbox (id, message_id, subject, aggregate_key, headers, payload) overriding system value values (1, ${values})`,
      `insert into delivery.outbox (created_at, message_id, subject, aggregate_key, headers, payload) values ('2000-01-01T00:00:00Z', ${values})`,
    ];
    for (const sql of forged) await assert.rejects(unitOfWork(pool, asProducer, (tx) => tx.query(sql)), refused, sql);
    assert.equal((await pool.query(`select 1 from delivery.outbox where subject = 'delivery.forged.Step'`)).rowCount, 0, 'nothing was written');

    // Nor move a waiting row there, even calling itself the relay.
    const [id] = await unitOfWork(pool, asProducer, (tx) => writeToOutbox(tx, [{ subject: 'delivery.forged.Waiting', key: 'w', payload: null }]));
    await assert.rejects(unitOfWork(pool, asSystem, (tx) => tx.query(`update delivery.outbox set transaction_id = '3'::xid8 where message_id = $1`, [id])), refused);
    const { rows } = await pool.query<{ moved: boolean }>(`select transaction_id = '3'::xid8 as moved from delivery.outbox where message_id = $1`, [id]);
    assert.deepEqual(rows, [{ moved: false }]);
  });

  test('the platform’s writers still write, with the database’s transaction id, id and time', async () => {
    const before = (await pool.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]!.now;
    const written = await unitOfWork(pool, asProducer, async (tx) => {
      const ids = await writeToOutbox(tx, [{ subject: 'delivery.written.Step', key: 'a', payload: { n: 1 } }, { subject: 'delivery.written.Step', key: 'a', payload: { n: 2 } }]);
      const { rows } = await tx.query<{ xid: string }>('select pg_current_xact_id()::text as xid');
      return { ids, xid: rows[0]!.xid };
    });
    const { rows } = await pool.query<{ message_id: string; xid: string; created_at: Date }>(
      'select message_id, transaction_id::text as xid, created_at from delivery.outbox where message_id = any($1::uuid[]) order by id',
      [written.ids],
    );
    assert.deepEqual(rows.map((r) => [r.message_id, r.xid]), written.ids.map((id) => [id, written.xid]));
    assert.ok(rows.every((r) => r.created_at.getTime() >= before.getTime() - 1000), 'dated by the database');

    // The event store's hook writes the outbox in the append's own statement (decision 0058).
    const store = createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') });
    const orderId = randomUUID();
    const appended = await unitOfWork(pool, { service: 'ordering', tenantId: TENANT, actor: { kind: 'customer', id: TENANT } }, async (tx) => {
      await tx.query('insert into ordering.order_index (tenant_id, order_id, customer_id) values ($1, $2, $1)', [TENANT, orderId]);
      return store.append(tx, `order-${orderId}`, [{ type: 'OrderPlaced', data: { total: 1 } }], 0);
    });
    const { rows: hooked } = await pool.query<{ xid: string }>('select transaction_id::text as xid from ordering.outbox where message_id = $1', [appended.events[0]!.metadata.messageId]);
    assert.deepEqual(hooked, [{ xid: appended.events[0]!.globalPosition.transactionId.toString() }]);
  });
});
