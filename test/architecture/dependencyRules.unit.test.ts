import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkImport, layerOf, resolveImport } from '../../scripts/dependencyRules.ts';

test('layers', () => {
  assert.equal(layerOf('src/platform/db/unitOfWork.ts'), 'platform');
  assert.equal(layerOf('src/services/menu/routes/getMenu.ts'), 'service:menu');
  assert.equal(layerOf('src/api/buildApp.ts'), 'api');
  assert.equal(layerOf('scripts/test.ts'), 'other');
});

test('the platform imports no service; services import no other service; api imports no service', () => {
  const bad: Array<[string, string]> = [
    ['src/platform/events/append.ts', 'src/services/ordering/index.ts'],
    ['src/platform/db/x.ts', 'src/api/buildApp.ts'],
    ['src/services/ordering/placeOrder.ts', 'src/services/menu/gateway.ts'],
    ['src/services/menu/index.ts', 'src/composition/services.ts'],
    ['src/api/auth.ts', 'src/services/platform/tokens.ts'],
  ];
  for (const [from, to] of bad) assert.notEqual(checkImport(from, to), null, `${from} -> ${to} must be refused`);
  const good: Array<[string, string]> = [
    ['src/services/ordering/placeOrder.ts', 'src/platform/events/index.ts'],
    ['src/services/ordering/placeOrder.ts', 'src/services/ordering/domain/order.ts'],
    ['src/services/menu/routes.ts', 'src/api/index.ts'],
    ['src/composition/services.ts', 'src/services/menu/index.ts'],
    ['src/cli/main.ts', 'src/composition/runtime.ts'],
  ];
  for (const [from, to] of good) assert.equal(checkImport(from, to), null, `${from} -> ${to} is allowed`);
});

test('relative specifiers resolve against the importing file', () => {
  assert.equal(resolveImport('src/services/menu/routes/getMenu.ts', '../../../platform/db/index.ts'), 'src/platform/db/index.ts');
  assert.equal(resolveImport('src/services/menu/index.ts', 'pg'), null);
});
