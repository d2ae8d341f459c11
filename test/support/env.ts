/**
 * The test environment, read once. `scripts/test.ts` sets BRIGADE_TEST_ADMIN_URL and
 * BRIGADE_TEST_TEMPLATE before it starts the test files; REDIS_URL and NATS_URL default to the
 * local ports. With CI set, a missing service fails the tests that need it instead of skipping them.
 * BRIGADE_TEST_REDIS_SERVER_PORT, if set, is the port of the private redis-server that the degraded-cache
 * tests start and stop themselves (default: a free port), for machines where ports are handed out.
 */
export const testEnv = Object.freeze({
  adminUrl: required('BRIGADE_TEST_ADMIN_URL'),
  template: required('BRIGADE_TEST_TEMPLATE'),
  runId: process.env.BRIGADE_TEST_RUN_ID ?? 'local',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  redisServerPort: process.env.BRIGADE_TEST_REDIS_SERVER_PORT ? Number(process.env.BRIGADE_TEST_REDIS_SERVER_PORT) : null,
  ci: process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false',
});

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: run the tests with 'npm test' (scripts/test.ts prepares the database), not with node --test directly.`);
  }
  return value;
}
