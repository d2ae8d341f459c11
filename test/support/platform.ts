import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createPlatform, type Platform } from '../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../src/composition/services.ts';
import type { Role } from '../../src/platform/auth/index.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

/** The whole platform (every service's routes) on a database of the test's own. */
export interface TestPlatform {
  readonly db: TestDatabase;
  readonly platform: Platform;
  /** A token for a role (subject and restaurant as given). */
  token(role: Role, options?: { subject?: string; restaurantId?: string }): Promise<string>;
  /** `app.inject` with an optional bearer token. */
  request(options: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  /** Closes the app and pools, then drops the database. */
  close(): Promise<void>;
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-signing';

/** Starts the platform on a fresh clone of the migrated template (or on `db`, which it then owns and drops). */
export async function startTestPlatform(env: Record<string, string> = {}, db?: TestDatabase): Promise<TestPlatform> {
  db ??= await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '8', ...env }, { services: SERVICE_NAMES });
  const platform = await createPlatform(config, { url: db.url, embedded: null }, { logger: false });
  return {
    db,
    platform,
    token: (role, options = {}) => platform.deps.tokens.sign({ role, ...options }),
    request: ({ token, headers, ...options }) =>
      platform.app.inject({ ...options, headers: { ...(headers ?? {}), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } }),
    close: async () => {
      await platform.close();
      await db!.drop();
    },
  };
}
