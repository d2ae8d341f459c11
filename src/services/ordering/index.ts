import { fileURLToPath } from 'node:url';
import type { ServiceModule } from '../../platform/runtime/index.ts';

/** The ordering service: owns order streams (the event store) and idempotency keys. Its schema `ordering` and role `brigade_ordering` come from the platform's first migration. */
export const orderingService: ServiceModule = {
  name: 'ordering',
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
};
