import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createPlatform } from '../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { createTestDatabase } from '../support/db.ts';
import { TEST_SECRET } from '../support/platform.ts';

const db = await createTestDatabase();
after(() => db.drop());

/** The warnings the process emits while a platform on DATABASE_URL starts with `env`, then closes. */
async function warningsOfStart(env: Record<string, string>): Promise<string[]> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-secret-'));
  const warnings: string[] = [];
  const listen = (warning: Error) => warnings.push(warning.message);
  process.on('warning', listen);
  try {
    const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_HOME: home, DATABASE_POOL_SIZE: '2', ...env }, { services: SERVICE_NAMES });
    const platform = await createPlatform(config, { url: db.url, embedded: null }, { logger: false });
    await platform.close();
    // 'warning' is emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    return warnings;
  } finally {
    process.off('warning', listen);
    await fs.rm(home, { recursive: true, force: true });
  }
}

test("a server on DATABASE_URL without BRIGADE_SECRET warns that other replicas refuse its tokens (before: each host signed with a secret of its own, silently)", async () => {
  const without = await warningsOfStart({});
  assert.ok(without.some((w) => /BRIGADE_SECRET is not set/.test(w) && /401 TOKEN_INVALID/.test(w) && /same value for every process/.test(w)), JSON.stringify(without));
  const withSecret = await warningsOfStart({ BRIGADE_SECRET: TEST_SECRET });
  assert.ok(!withSecret.some((w) => /BRIGADE_SECRET/.test(w)), JSON.stringify(withSecret));
});
