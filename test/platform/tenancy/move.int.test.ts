import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, SERVICE_NAMES } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { startTestPlatform } from '../../support/platform.ts';

async function count(url: string, sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql, values)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

test('a tenant move while its traffic runs loses no write, then serves from the new database', async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  try {
    const admin = await t.token('admin', { subject: 'ops' });
    const make = async (name: string) => (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } })).json().id as string;
    const moving = await make('Moving');
    const staying = await make('Staying');
    const uow = t.platform.deps.unitOfWork;
    const staff = (tenant: string) => ({ service: 'platform', tenantId: tenant, actor: { kind: 'staff' as const, id: randomUUID() } });
    const insert = (tenant: string) =>
      uow(staff(tenant), (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'w', $2)`, [tenant, `${randomUUID()}@example.com`]));
    await insert(staying);

    // Writers on the moving tenant run before, during and after the move.
    let stop = false;
    let written = 0;
    const failures: unknown[] = [];
    const writers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await insert(moving).then(
          () => written++,
          (e: unknown) => failures.push(e),
        );
      }
    });
    while (written < 20) await new Promise((r) => setTimeout(r, 5));

    // Forced interleaving: a transaction of the tenant is open when the move starts; the move must
    // wait for it (the fence), and its row must arrive in the new database.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let heldId = '';
    const open = uow(staff(moving), async (tx) => {
      heldId = (await tx.query<{ id: string }>(`insert into platform.staff (tenant_id, name, email) values ($1, 'held', $2) returning id`, [moving, `${randomUUID()}@example.com`])).rows[0]?.id ?? '';
      await held;
    });
    while (heldId === '') await new Promise((r) => setTimeout(r, 5));
    const lines: string[] = [];
    let moved = false;
    const move = moveTenant({ tenantId: moving, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: SERVICE_NAMES, onProgress: (l) => lines.push(l) }).then((r) => {
      moved = true;
      return r;
    });
    while (!lines.some((l) => l.startsWith('fencing'))) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(moved, false, 'the move waits for the open transaction of the tenant');
    release();
    await open;
    const result = await move;
    const afterMove = written;
    while (written < afterMove + 20) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(writers);

    assert.deepEqual(failures, [], 'no write failed during the move');
    assert.ok((result.rows['platform.staff'] ?? 0) >= 21);
    assert.equal(await count(target.url, 'select count(*) as n from platform.staff where tenant_id = $1', [moving]), written + 1, 'every write is in the new database');
    assert.equal(await count(target.url, 'select count(*) as n from platform.staff where id = $1', [heldId]), 1);
    assert.equal(await count(t.db.url, 'select count(*) as n from platform.staff where tenant_id = $1', [moving]), 0, 'the old rows are gone');
    assert.equal(await count(t.db.url, 'select count(*) as n from platform.staff where tenant_id = $1', [staying]), 1, 'other tenants are untouched');
    assert.equal(t.platform.deps.unitOfWork === uow, true);

    // The HTTP API serves the moved tenant from its own database.
    const staffToken = await t.token('staff', { restaurantId: moving });
    const listed = await t.request({ url: `/v1/restaurants/${moving}/staff`, token: staffToken });
    assert.equal(listed.statusCode, 200);
    assert.equal(listed.json().staff.length, written + 1);
  } finally {
    await t.close();
    await target.drop();
  }
});
