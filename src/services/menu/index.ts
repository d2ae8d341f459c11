import { fileURLToPath } from 'node:url';
import type { ServiceModule } from '../../platform/runtime/index.ts';
import type { MenuPorts } from './ports.ts';
import { menuRoutes } from './routes.ts';

export type { MenuPorts, RestaurantDirectory } from './ports.ts';
export type { OrderPause } from './operations/orderPauseSql.ts';
export { orderTaking } from './orderTakingAdapter.ts';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * The menu service: owns categories, items, modifier groups and their price history. Its ports
 * (the restaurant directory) are wired by the composition root.
 */
export function createMenuService(ports: (deps: import('../../platform/runtime/index.ts').ServiceDeps) => MenuPorts): ServiceModule {
  return {
    name: 'menu',
    migrationsDir,
    routes: async (app, options) => menuRoutes(ports(options.deps))(app, options),
  };
}
