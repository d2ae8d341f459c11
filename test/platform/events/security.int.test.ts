import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createEventStore, eventStoreSchemaSql } from '../../../src/platform/events/index.ts';
import { useTestDatabase } from '../../support/db.ts';

describe('event store: grants and Row-Level Security', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  const asA: UnitOfWorkContext = { service: 'ordering', tenantId: tenantA, actor: { kind: 'staff', id: randomUUID() } };
  const asB: UnitOfWorkContext = { service: 'ordering', tenantId: tenantB, actor: { kind: 'staff', id: randomUUID() } };
  let streamOfA: string;

  before(async () => {
    pool = database.pool(4);
    admin = database.pool(1);
    streamOfA = `order-${randomUUID()}`;
    await unitOfWork(pool, asA, (tx) => store.append(tx, streamOfA, [{ type: 'OrderPlaced', data: { total: 10 } }], 0));
  });

  test('the application role cannot update, delete or truncate events, even its own tenant’s', async () => {
    const attempts = [
      `update ordering.events set data = '{"total": 0}' where stream_id = '${streamOfA}'`,
      `delete from ordering.events where stream_id = '${streamOfA}'`,
      'truncate ordering.events',
    ];
    for (const sql of attempts) {
      await assert.rejects(unitOfWork(pool, asA, (tx) => tx.query(sql)), /permission denied for table events/, sql);
      await assert.rejects(unitOfWork(pool, { service: 'ordering', actor: { kind: 'admin', id: randomUUID() } }, (tx) => tx.query(sql)), /permission denied/, `as admin: ${sql}`);
    }
    const privileges = (await admin.query<{ p: string; granted: boolean }>(
      `select p, has_table_privilege('brigade_ordering', 'ordering.events', p) as granted
         from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) as p`,
    )).rows;
    assert.deepEqual(Object.fromEntries(privileges.map((r) => [r.p, r.granted])), {
      SELECT: true, INSERT: false, UPDATE: false, DELETE: false, TRUNCATE: false, REFERENCES: false, TRIGGER: false,
    });
    // INSERT is granted on the columns a writer names only: the database assigns transaction_id,
    // global_position and recorded_at (ordering 0043).
    const insertable = (await admin.query<{ column_name: string }>(
      `select column_name from information_schema.columns
        where table_schema = 'ordering' and table_name = 'events' and has_column_privilege('brigade_ordering', 'ordering.events', column_name, 'INSERT')
        order by ordinal_position`,
    )).rows.map((r) => r.column_name);
    assert.deepEqual(insertable, ['tenant_id', 'stream_id', 'stream_version', 'message_id', 'type', 'schema_version', 'data', 'metadata']);
    const { events } = await unitOfWork(pool, asA, (tx) => store.readStream(tx, streamOfA));
    assert.deepEqual(events.map((e) => e.data), [{ total: 10 }], 'the event is unchanged');
  });

  test('the application role cannot date an event before the checkpoints: transaction_id and global_position are the database’s', async () => {
    const forged = [
      `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata, transaction_id)
       values ($1, 'order-forged', 1, gen_random_uuid(), 'Forged', '{}', '{}', '3'::xid8)`,
      `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata, global_position)
       overriding system value values ($1, 'order-forged', 1, gen_random_uuid(), 'Forged', '{}', '{}', 1)`,
    ];
    for (const sql of forged) {
      await assert.rejects(unitOfWork(pool, asA, (tx) => tx.query(sql, [tenantA])), /permission denied for table events/, sql);
    }
  });

  test('the application role cannot back-date an event: recorded_at is the database’s time, and appends still work', async () => {
    const backDated = `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata, recorded_at)
       values ($1, $2, 1, gen_random_uuid(), 'BackDated', '{}', '{}', '2000-01-01T00:00:00Z')`;
    const stream = `order-${randomUUID()}`;
    await assert.rejects(
      unitOfWork(pool, asA, (tx) => tx.query(backDated, [tenantA, stream])),
      (e: unknown) => (e as { code?: string }).code === '42501' && /permission denied for table events/.test((e as Error).message),
    );
    const rows = await admin.query('select 1 from ordering.events where stream_id = $1', [stream]);
    assert.equal(rows.rowCount, 0, 'nothing was written');
    // The platform's append names no recorded_at: it still works, and the database dates the event.
    const before = (await admin.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]!.now;
    const appended = await unitOfWork(pool, asA, (tx) => store.append(tx, stream, [{ type: 'OrderPlaced', data: { total: 1 } }], 0));
    const recordedAt = new Date(appended.events[0]!.metadata.recordedAt);
    assert.ok(recordedAt >= before, `recorded ${recordedAt.toISOString()}, not before the append began (${before.toISOString()})`);
    const read = await unitOfWork(pool, asA, (tx) => store.readStream(tx, stream));
    assert.deepEqual(read.events.map((e) => [e.type, e.metadata.recordedAt]), [['OrderPlaced', appended.events[0]!.metadata.recordedAt]]);
  });

  test('RLS is forced, and a tenant neither sees nor writes another tenant’s events', async () => {
    const flags = (await admin.query<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      `select relrowsecurity, relforcerowsecurity from pg_class where oid = 'ordering.events'::regclass`,
    )).rows[0];
    assert.deepEqual(flags, { relrowsecurity: true, relforcerowsecurity: true });

    const seenByB = await unitOfWork(pool, asB, (tx) => store.readStream(tx, streamOfA, { tenantId: tenantA }));
    assert.deepEqual(seenByB.events, [], 'B asking for A’s stream by name gets nothing');
    const rawByB = await unitOfWork(pool, asB, (tx) => tx.query('select count(*)::int as n from ordering.events'));
    assert.equal(rawByB.rows[0]?.n, 0);
    // B cannot write into A's stream by naming A's tenant in a raw insert: WITH CHECK refuses it.
    await assert.rejects(
      unitOfWork(pool, asB, (tx) =>
        tx.query(
          `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
           values ($1, $2, 2, $3, 'Forged', '{}', '{}')`,
          [tenantA, streamOfA, randomUUID()],
        ),
      ),
      /violates row-level security policy/,
    );
    // B's own stream with A's name is a different stream: keys include the tenant.
    const own = await unitOfWork(pool, asB, (tx) => store.append(tx, streamOfA, [{ type: 'OrderPlaced', data: { total: 99 } }], 0));
    assert.equal(own.nextExpectedVersion, 1);
    const stillA = await unitOfWork(pool, asA, (tx) => store.readStream(tx, streamOfA));
    assert.deepEqual(stillA.events.map((e) => e.data), [{ total: 10 }]);
    // A system actor (projector) may read across tenants, but not write for a tenant it is not in.
    const all = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'projector' } }, (tx) =>
      tx.query<{ tenant_id: string }>('select distinct tenant_id from ordering.events'),
    );
    assert.deepEqual(new Set(all.rows.map((r) => r.tenant_id)), new Set([tenantA, tenantB]));
    await assert.rejects(
      unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'projector' } }, (tx) =>
        tx.query(
          `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
           values ($1, $2, 5, $3, 'Forged', '{}', '{}')`,
          [tenantA, streamOfA, randomUUID()],
        ),
      ),
      /violates row-level security policy/,
    );
    // Staff of another tenant naming no tenant at all see nothing either.
    const noTenant = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'staff', id: randomUUID() } }, (tx) => tx.query('select count(*)::int as n from ordering.events'));
    assert.equal(noTenant.rows[0]?.n, 0);
  });

  test('the generator works for any schema and role: a scratch store for brigade_menu', async () => {
    await admin.query(eventStoreSchemaSql({ schema: 'scratch_es', role: 'brigade_menu' }));
    const scratch = createEventStore({ schema: 'scratch_es' });
    const asMenu: UnitOfWorkContext = { service: 'menu', tenantId: tenantA, actor: { kind: 'staff', id: randomUUID() } };
    await unitOfWork(pool, asMenu, (tx) => scratch.append(tx, 'menu-1', [{ type: 'MenuPublished', data: { v: 1 } }], 0));
    const read = await unitOfWork(pool, asMenu, (tx) => scratch.readStream(tx, 'menu-1'));
    assert.deepEqual(read.events.map((e) => [e.type, e.metadata.source]), [['MenuPublished', 'menu']]);
    await assert.rejects(unitOfWork(pool, asMenu, (tx) => tx.query('delete from scratch_es.events')), /permission denied/);
    await assert.rejects(unitOfWork(pool, asA, (tx) => scratch.readStream(tx, 'menu-1')), /permission denied for schema scratch_es/, 'ordering has no access');
  });
});
