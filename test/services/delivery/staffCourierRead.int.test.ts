import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, SERVICE_NAMES } from '../../../src/composition/services.ts';
import { unitOfWork, type Actor } from '../../../src/platform/db/index.ts';
import { runMigrations } from '../../../src/platform/migrations/index.ts';
import { listAssignableCouriers } from '../../../src/services/delivery/operations/listAssignableCouriers.ts';
import { createOwnerRole, urlFor, useTestDatabase } from '../../support/db.ts';

/**
 * What a restaurant's staff may read of courier availability, at the database (decision 0089, "Fixed
 * later (fiftieth session)"; found by the tenancy review, finding 1). A courier's row names the order
 * they carry or are held for, and its restaurant: another restaurant's ids, which staff must not read.
 * Staff read the couriers of a city through `delivery.couriers_of_city`, which masks those columns
 * unless they are the transaction's tenant's; the table itself has no staff policy any more.
 */
describe("staff read couriers of a city, never another restaurant's tenant or order ids", () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const A = randomUUID(); // the staff's restaurant
  const B = randomUUID(); // another restaurant of the city
  const orderOfA = randomUUID();
  const orderOfB = randomUUID();
  const heldForB = randomUUID();
  const missedOfB = randomUUID();
  const busyWithB = randomUUID();
  const heldByB = randomUUID();
  const busyWithA = randomUUID();
  const elsewhere = randomUUID(); // a courier of another city
  const staffOfA: Actor = { kind: 'staff', id: randomUUID() };
  const idsOfB = new Set<string>([B, orderOfB, heldForB, missedOfB]);

  before(async () => {
    pool = database.pool(2);
    await seed(pool, { city: 'Probeville', A, B, orderOfA, orderOfB, heldForB, missedOfB, busyWithB, heldByB, busyWithA, elsewhere });
  });

  const as = <T extends pg.QueryResultRow>(actor: Actor, tenantId: string | null, sql: string, values: unknown[] = []) =>
    unitOfWork(pool, { service: 'delivery', tenantId, actor, readOnly: true }, (tx) => tx.query<T>(sql, values));
  const sqlState = (promise: Promise<unknown>) =>
    promise.then(
      () => 'no error',
      (error: { code?: string }) => error.code ?? 'no code',
    );

  test("as staff of A, a bare select of courier availability's tenant and order ids returns no id of B, with or without A's tenant set (before: B's order)", async () => {
    for (const tenantId of [A, null]) {
      const { rows } = await as<Record<string, string | null>>(
        staffOfA,
        tenantId,
        `select current_tenant_id, current_order_id, held_tenant_id, held_order_id, missed_order_id from delivery.courier_availability`,
      );
      const seen = rows.flatMap((row) => Object.values(row)).filter((v) => v !== null);
      assert.deepEqual(
        seen.filter((id) => idsOfB.has(id ?? '')),
        [],
        `tenant ${tenantId ?? 'none'}: ${JSON.stringify(rows)}`,
      );
    }
  });

  test("through delivery.couriers_of_city, staff of A read every courier of the city, with B's ids masked and A's own shown; the route's list is unchanged", async () => {
    const { rows } = await as<Record<string, unknown>>(
      staffOfA,
      A,
      `select courier_id, status, current_tenant_id, current_order_id, held_tenant_id, held_order_id, held_until is not null as held
         from delivery.couriers_of_city($1) order by courier_id`,
      ['Probeville'],
    );
    const byCourier = new Map(rows.map((row) => [row.courier_id, row]));
    assert.deepEqual([...byCourier.keys()].sort(), [busyWithA, busyWithB, heldByB].sort(), 'the city, not another');
    assert.deepEqual(byCourier.get(busyWithB), { courier_id: busyWithB, status: 'busy', current_tenant_id: null, current_order_id: null, held_tenant_id: null, held_order_id: null, held: false });
    assert.deepEqual(byCourier.get(heldByB), { courier_id: heldByB, status: 'available', current_tenant_id: null, current_order_id: null, held_tenant_id: null, held_order_id: null, held: true });
    assert.deepEqual(byCourier.get(busyWithA), { courier_id: busyWithA, status: 'busy', current_tenant_id: A, current_order_id: orderOfA, held_tenant_id: null, held_order_id: null, held: false });

    // The staff picker's operation, as the route runs it (the restaurant as the tenant).
    const listed = await unitOfWork(pool, { service: 'delivery', tenantId: A, actor: staffOfA, readOnly: true }, (tx) => listAssignableCouriers(tx, 'Probeville', 200));
    assert.deepEqual(
      listed.couriers.map((k) => [k.courierId, k.status, k.held]),
      [
        [heldByB, 'available', true],
        [busyWithB, 'busy', false],
        [busyWithA, 'busy', false],
      ],
    );
    assert.equal(listed.more, false);
  });

  test('delivery.couriers_of_city refuses (42501) a transaction without a tenant, and couriers, customers and the public; admins acting in a restaurant may call it', async () => {
    const call = (actor: Actor, tenantId: string | null) => sqlState(as(actor, tenantId, `select * from delivery.couriers_of_city('Probeville')`));
    assert.equal(await call(staffOfA, null), '42501', 'staff without a tenant');
    assert.equal(await call({ kind: 'courier', id: busyWithA }, A), '42501');
    assert.equal(await call({ kind: 'customer', id: randomUUID() }, A), '42501');
    assert.equal(await call({ kind: 'public', id: randomUUID() }, A), '42501');
    assert.equal(await call({ kind: 'admin', id: 'ops' }, A), 'no error');
    assert.equal(await call({ kind: 'admin', id: 'ops' }, null), '42501', 'an admin reads the table itself (admin_read)');
  });
});

test('migrated by an owner without superuser or BYPASSRLS, staff still read the couriers of their city through delivery.couriers_of_city, and still no other restaurant’s ids; and after REASSIGN OWNED to another such owner', async () => {
  const serviceRoles = SERVICE_NAMES.map((s) => `brigade_${s}`);
  const role = await createOwnerRole(serviceRoles, { bypassRls: false });
  const next = await createOwnerRole(serviceRoles, { bypassRls: false });
  const db = await role.createDatabase();
  const owner = new pg.Pool({ connectionString: db.url, max: 1 });
  // The new owner's sessions: a superuser's connection acting as it (SET ROLE), held to RLS as it is.
  const nextOwner = new pg.Pool({ connectionString: urlFor(db.name), max: 1 });
  nextOwner.on('connect', (client) => void client.query(`set role ${pg.escapeIdentifier(next.name)}`));
  try {
    await runMigrations({ url: db.url, sets: migrationSets() });
    const A = randomUUID();
    const B = randomUUID();
    const ids = { city: 'Ownerville', A, B, orderOfA: randomUUID(), orderOfB: randomUUID(), heldForB: randomUUID(), missedOfB: randomUUID(), busyWithB: randomUUID(), heldByB: randomUUID(), busyWithA: randomUUID(), elsewhere: randomUUID() };
    await seed(owner, ids);
    const { rows } = await unitOfWork(owner, { service: 'delivery', tenantId: A, actor: { kind: 'staff', id: randomUUID() }, readOnly: true }, (tx) =>
      tx.query<{ courier_id: string; current_tenant_id: string | null; current_order_id: string | null; held_order_id: string | null }>(
        `select courier_id, current_tenant_id, current_order_id, held_order_id from delivery.couriers_of_city($1)`,
        ['Ownerville'],
      ),
    );
    assert.deepEqual(rows.map((r) => r.courier_id).sort(), [ids.busyWithA, ids.busyWithB, ids.heldByB].sort());
    assert.deepEqual(
      rows.flatMap((r) => [r.current_tenant_id, r.current_order_id, r.held_order_id]).filter((v) => v !== null).sort(),
      [A, ids.orderOfA].sort(),
    );
    // A new migration owner takes over (REASSIGN OWNED): the picker still reads the city's couriers
    // (before: owner_read named the first owner, and staff read none, with no error).
    await nextOwner.query(`reset role; reassign owned by ${pg.escapeIdentifier(role.name)} to ${pg.escapeIdentifier(next.name)}; set role ${pg.escapeIdentifier(next.name)}`);
    const after = await unitOfWork(nextOwner, { service: 'delivery', tenantId: A, actor: { kind: 'staff', id: randomUUID() }, readOnly: true }, (tx) =>
      tx.query<{ courier_id: string; current_order_id: string | null }>(`select courier_id, current_order_id from delivery.couriers_of_city($1)`, ['Ownerville']),
    );
    assert.deepEqual(after.rows.map((r) => r.courier_id).sort(), [ids.busyWithA, ids.busyWithB, ids.heldByB].sort());
    assert.deepEqual(after.rows.map((r) => r.current_order_id).filter((v) => v !== null), [ids.orderOfA]);
  } finally {
    await owner.end();
    await nextOwner.end();
    await role.drop();
    await next.drop();
  }
});

/**
 * Couriers of `city`: one busy with B's order (and who missed another of B's), one available but held
 * for B's order, one busy with A's order (busy for less long than the first); and one courier of another city.
 * Written as the dispatch writes them (a system actor), which FORCE RLS lets through for any owner.
 */
async function seed(
  db: pg.Pool,
  s: { city: string; A: string; B: string; orderOfA: string; orderOfB: string; heldForB: string; missedOfB: string; busyWithB: string; heldByB: string; busyWithA: string; elsewhere: string },
): Promise<void> {
  await unitOfWork(db, { service: 'delivery', actor: { kind: 'system', id: 'test-seed' } }, (tx) =>
    tx.query(
      `insert into delivery.courier_availability (courier_id, city, status, current_tenant_id, current_order_id, missed_order_id, held_until, held_tenant_id, held_order_id, updated_at)
       values ($1, $4, 'busy', $5, $6, $7, null, null, null, now() - interval '2 minutes'),
              ($2, $4, 'available', null, null, null, now() + interval '1 hour', $5, $8, now()),
              ($3, $4, 'busy', $9, $10, null, null, null, null, now() - interval '1 minute'),
              ($11, 'Elsewhere', 'available', null, null, null, null, null, null, now())`,
      [s.busyWithB, s.heldByB, s.busyWithA, s.city, s.B, s.orderOfB, s.missedOfB, s.heldForB, s.A, s.orderOfA, s.elsewhere],
    ),
  );
}
