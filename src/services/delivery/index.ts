import { fileURLToPath } from 'node:url';
import type { ServiceModule } from '../../platform/runtime/index.ts';

/** The delivery service: owns courier availability and assignments. Its schema `delivery` and role `brigade_delivery` come from the platform's first migration. */
export const deliveryService: ServiceModule = {
  name: 'delivery',
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
};
