import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { startTestPlatform } from '../support/platform.ts';

test("/health/ready with a restaurant's own database down: the check shows it, without its host, and the instance stays ready", async () => {
  const t = await startTestPlatform();
  const admin = new pg.Client({ connectionString: t.db.url });
  await admin.connect();
  try {
    const token = await t.token('admin', { subject: 'ops' });
    const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token, payload: { name: 'Apart', city: 'Lisbon' } })).json().id as string;
    // The catalog places the restaurant in a database nobody answers for (a port that refuses).
    await admin.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, 'postgres://postgres@127.0.0.1:1/gone')`, [rid]);

    const ready = await t.request({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
    const checks = ready.json().checks as Record<string, { ok: boolean; detail?: string }>;
    const placed = Object.keys(checks).filter((name) => name.startsWith('database:db-'));
    assert.equal(placed.length, 1, ready.body);
    assert.equal(checks[placed[0]!]!.ok, false);
    assert.match(checks[placed[0]!]!.detail ?? '', /unreachable/);
    assert.deepEqual([checks.database?.ok, checks.migrations?.ok], [true, true]);
    assert.ok(!ready.body.includes('127.0.0.1') && !ready.body.includes('postgres://'), ready.body);
  } finally {
    await admin.end();
    await t.close();
  }
});

test("/health/ready with a configured database down: 503, and the check says what kind of failure it was without the driver's text (hosts)", async () => {
  const t = await startTestPlatform({ PAYMENTS_DATABASE_URL: 'postgres://svc_user:pw@127.0.0.1:1/payments' });
  try {
    const ready = await t.request({ url: '/health/ready' });
    assert.equal(ready.statusCode, 503, ready.body);
    const down = Object.values(ready.json().checks as Record<string, { ok: boolean; detail?: string }>).filter((c) => !c.ok && /the database is up/.test(c.detail ?? ''));
    assert.equal(down.length, 1, ready.body);
    // Before, the detail was the driver's message: "connect ECONNREFUSED 127.0.0.1:1".
    assert.ok(!/127\.0\.0\.1|ECONNREFUSED|svc_user/.test(ready.body), ready.body);
  } finally {
    await t.close();
  }
});
