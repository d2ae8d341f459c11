import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrationTargets } from '../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';

const MAIN = 'postgres://app@main/brigade';
/** Each target's URL with the names of the sets it takes. */
const targets = (env: Record<string, string>) =>
  migrationTargets(loadConfig({ DATABASE_URL: MAIN, ...env }, { services: SERVICE_NAMES }), MAIN).map((t) => [t.url, t.sets.map((s) => s.name)]);

test('database-per-service: every database takes the platform set and its services; the rest stay on the main one', () => {
  assert.deepEqual(targets({ ORDERING_DATABASE_URL: 'postgres://app@orders/brigade' }), [
    [MAIN, ['platform', 'menu', 'delivery', 'payments']],
    ['postgres://app@orders/brigade', ['platform', 'ordering']],
  ]);
});

test('PLATFORM_DATABASE_URL is migrated too: the platform service\'s tables (tenants, the bus) are where its pool reads them', () => {
  assert.deepEqual(targets({ PLATFORM_DATABASE_URL: 'postgres://app@platform/brigade' }), [
    ['postgres://app@platform/brigade', ['platform']],
    [MAIN, ['platform', 'menu', 'ordering', 'delivery', 'payments']],
  ]);
});
