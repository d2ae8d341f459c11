import { fileURLToPath } from 'node:url';
import type { ServiceModule } from '../../platform/runtime/index.ts';

/**
 * The platform service: owns cities, restaurants (the tenants), staff, couriers and customers, and
 * its first migration creates every service's schema and role.
 */
export const platformService: ServiceModule = {
  name: 'platform',
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
};
