import { fileURLToPath } from 'node:url';
import type { ServiceModule } from '../../platform/runtime/index.ts';
import { platformRoutes } from './routes.ts';

export { recordAdminAudit } from './operations/recordAdminAudit.ts';
export { mintToken, type TokenRequest } from './operations/mintToken.ts';
export { TokenRestaurantUnknownError } from './operations/errors.ts';
export { createRestaurant } from './operations/createRestaurant.ts';
export { listRestaurants } from './operations/listRestaurants.ts';
export { NewRestaurant, newRestaurantProblems } from './newRestaurant.ts';
export { courierDirectory, restaurantDirectory } from './directory.ts';
export { cardsOnFile } from './cardsOnFile.ts';
export { customerKeyId, customerKeys } from './customerKeys.ts';

/**
 * The platform service: owns cities, restaurants (the tenants), staff, couriers and customers, the
 * tenant placement catalog and the admin audit log; its first migration creates every service's
 * schema and role.
 */
export const platformService: ServiceModule = {
  name: 'platform',
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  routes: platformRoutes,
};
