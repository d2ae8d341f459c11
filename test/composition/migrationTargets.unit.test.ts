import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrationTargets, servedMigrationTargets } from '../../src/composition/runtime.ts';
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

test("readiness's targets: the platform's database and the served services' own, labelled by their settings", () => {
  const config = loadConfig(
    { DATABASE_URL: MAIN, PLATFORM_DATABASE_URL: 'postgres://app@platform/brigade', MENU_DATABASE_URL: 'postgres://app@shared/brigade', ORDERING_DATABASE_URL: 'postgres://app@shared/brigade', PAYMENTS_DATABASE_URL: 'postgres://app@pay/brigade' },
    { services: SERVICE_NAMES },
  );
  const served = (services: string[]) => servedMigrationTargets(config, MAIN, services).map((t) => [t.label, t.url]);
  assert.deepEqual(served(['menu']), [
    ['platform', 'postgres://app@platform/brigade'],
    ['menu+ordering', 'postgres://app@shared/brigade'],
  ]);
  // Delivery has no setting of its own: it is on the main database; payments' own is not checked.
  assert.deepEqual(served(['delivery']), [
    ['platform', 'postgres://app@platform/brigade'],
    ['main', MAIN],
  ]);
});
