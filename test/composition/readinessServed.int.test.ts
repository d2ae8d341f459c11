import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPlatform } from '../../src/composition/runtime.ts';
import { SERVICES, SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { createTestDatabase } from '../support/db.ts';
import { TEST_SECRET } from '../support/platform.ts';

/** A database URL on a port that refuses: a service's own database that is down. */
const DOWN = 'postgres://postgres@127.0.0.1:1/down';

type Checks = Record<string, { ok: boolean; detail?: string }>;

/** `/health/ready` of a platform serving only `served` (as `brigade serve --service NAME`), with `env` set. */
async function readyOf(served: readonly string[], env: Record<string, string>): Promise<{ status: number; checks: Checks; body: string }> {
  const db = await createTestDatabase();
  try {
    const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '4', ...env }, { services: SERVICE_NAMES });
    const platform = await createPlatform(config, { url: db.url, embedded: null }, { services: SERVICES.filter((s) => served.includes(s.name)), logger: false });
    try {
      const ready = await platform.app.inject({ url: '/health/ready' });
      return { status: ready.statusCode, checks: ready.json().checks as Checks, body: ready.body };
    } finally {
      await platform.close();
    }
  } finally {
    await db.drop();
  }
}

// Found by a review: readiness checked every configured database, so ordering's own database down took
// every menu instance (`brigade serve --service menu`) out of rotation with 503, though menu never uses it.
test("serve --service menu with ordering's own database down: ready (200), and ordering's database is not checked", async () => {
  const { status, checks, body } = await readyOf(['menu'], { ORDERING_DATABASE_URL: DOWN });
  assert.equal(status, 200, body);
  assert.deepEqual(Object.keys(checks), ['database', 'migrations'], body);
  assert.deepEqual([checks.database?.ok, checks.migrations?.ok], [true, true], body);
});

test("serve --service ordering with its own database down: 503, the checks named by their settings (database:main, database:ordering)", async () => {
  const { status, checks, body } = await readyOf(['ordering'], { ORDERING_DATABASE_URL: DOWN });
  assert.equal(status, 503, body);
  // Before: database:0 and database:1, which named no setting an operator could go and fix.
  assert.deepEqual(Object.keys(checks), ['database:main', 'database:ordering', 'migrations:main', 'migrations:ordering'], body);
  assert.deepEqual([checks['database:main']?.ok, checks['database:ordering']?.ok], [true, false], body);
});

test("serve --service menu counts the platform's own database (PLATFORM_DATABASE_URL): down, 503 named database:platform", async () => {
  const { status, checks, body } = await readyOf(['menu'], { PLATFORM_DATABASE_URL: DOWN });
  assert.equal(status, 503, body);
  // The placement catalog is the platform's table: unreadable too, shown without deciding (decision 0008).
  assert.deepEqual(Object.keys(checks), ['database:main', 'database:platform', 'migrations:main', 'migrations:platform', 'placement-catalog'], body);
  assert.deepEqual([checks['database:main']?.ok, checks['database:platform']?.ok], [true, false], body);
});
