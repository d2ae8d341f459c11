import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Databases } from '../../../src/platform/db/index.ts';
import { createTenantRouter } from '../../../src/platform/tenancy/index.ts';

test('a routed unit of work of a tenant refuses REPEATABLE READ and SERIALIZABLE: their snapshot would come before the fence', async () => {
  // Refused before any pool is asked for a connection: these databases have none.
  const databases = {} as Databases;
  const router = createTenantRouter({ databases });
  const context = (isolation: 'repeatable read' | 'serializable') => ({ service: 'menu', tenantId: randomUUID(), actor: { kind: 'staff' as const, id: randomUUID() }, isolation });
  for (const isolation of ['repeatable read', 'serializable'] as const) {
    const refused = (error: { code?: string; message?: string }) =>
      error.code === 'TENANT_ISOLATION_UNSUPPORTED' && error.message?.includes(`runs READ COMMITTED`) === true && error.message.includes(isolation.toUpperCase());
    await assert.rejects(router.unitOfWork(context(isolation), async () => undefined), refused);
    await assert.rejects(router.commitStatements(context(isolation), [{ text: 'select 1' }]), refused);
  }
});
