import type { MigrationSet } from '../platform/migrations/index.ts';
import type { ServiceModule } from '../platform/runtime/index.ts';
import { deliveryService } from '../services/delivery/index.ts';
import { menuService } from '../services/menu/index.ts';
import { orderingService } from '../services/ordering/index.ts';
import { paymentsService } from '../services/payments/index.ts';
import { platformService } from '../services/platform/index.ts';

/** Every service, in migration order: the platform first (it creates the others' schemas and roles). */
export const SERVICES: readonly ServiceModule[] = Object.freeze([platformService, menuService, orderingService, deliveryService, paymentsService]);

/** The service names, e.g. for `<SERVICE>_DATABASE_URL` and `brigade serve --service`. */
export const SERVICE_NAMES: readonly string[] = Object.freeze(SERVICES.map((s) => s.name));

/** The migration sets of the given services (all by default), in apply order. */
export function migrationSets(services: readonly ServiceModule[] = SERVICES): MigrationSet[] {
  return services.flatMap((s) => (s.migrationsDir === undefined ? [] : [{ name: s.name, dir: s.migrationsDir }]));
}
