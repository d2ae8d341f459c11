import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createPlatform, type Platform } from '../../../src/composition/runtime.ts';
import { SERVICES, SERVICE_NAMES } from '../../../src/composition/services.ts';
import type { Role } from '../../../src/platform/auth/index.ts';
import { loadConfig } from '../../../src/platform/config/index.ts';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import { createDeliveryService, type DeliveryPorts, type DeliveryServiceOptions } from '../../../src/services/delivery/index.ts';
import { orderCommands } from '../../../src/services/ordering/index.ts';
import { courierDirectory, restaurantDirectory } from '../../../src/services/platform/index.ts';
import { getCourier } from '../../../src/services/platform/operations/getCourier.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { TEST_SECRET } from '../../support/platform.ts';

/** The platform with the delivery service wired to real adapters (what the composition root will do). */
export interface DeliveryPlatform {
  readonly db: TestDatabase;
  readonly platform: Platform;
  readonly ports: (deps: ServiceDeps) => DeliveryPorts;
  token(role: Role, options?: { subject?: string; restaurantId?: string }): Promise<string>;
  request(options: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * Ports over the real services, as the composition root wires them (src/composition/services.ts): the
 * restaurant directory and a courier lookup in-process, and ordering's in-process commands as the
 * `delivery-dispatch` system actor (`orderCommands`), which refuse to replace a courier staff chose
 * (422 `ORDER_COURIER_TAKEN`). The harness used to call ordering's HTTP assign-courier as an admin,
 * which reassigns: a dispatch notice the production port refuses went through in tests.
 */
export function deliveryPorts(): (deps: ServiceDeps) => DeliveryPorts {
  return (deps) => ({
    restaurants: restaurantDirectory(deps.unitOfWork),
    couriers: {
      courier: async (id) => {
        const found = await deps.unitOfWork({ service: 'platform', actor: { kind: 'courier', id }, readOnly: true }, (tx) => getCourier(tx, id));
        return found === null ? null : { id: found.id, city: found.city };
      },
      names: courierDirectory(deps.unitOfWork).names,
    },
    orders: orderCommands(deps, 'delivery-dispatch'),
  });
}

/** Starts the platform, the delivery service created with {@link createDeliveryService} in place of the bare module. */
export async function startDeliveryPlatform(options: DeliveryServiceOptions = {}): Promise<DeliveryPlatform> {
  const db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '8' }, { services: SERVICE_NAMES });
  const ports = deliveryPorts();
  const delivery = createDeliveryService(ports, options);
  const built = await createPlatform(config, { url: db.url, embedded: null }, { logger: false, services: SERVICES.map((s) => (s.name === 'delivery' ? delivery : s)) });
  return {
    db,
    platform: built,
    ports,
    token: (role, o = {}) => built.deps.tokens.sign({ role, ...o }),
    request: ({ token, headers, ...o }) => built.app.inject({ ...o, headers: { ...(headers ?? {}), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } }),
    close: async () => {
      await built.close();
      await db.drop();
    },
  };
}

/** Registers a courier in `city` through the platform's admin route; returns their id and a courier token. */
export async function registerCourier(t: DeliveryPlatform, city: string, name = 'Rita'): Promise<{ id: string; token: string }> {
  const res = await t.request({ method: 'POST', url: '/v1/couriers', token: await t.token('admin', { subject: 'ops' }), payload: { name, city } });
  if (res.statusCode !== 201) throw new Error(`registering a courier answered ${res.statusCode}: ${res.body}`);
  const id = res.json().id as string;
  return { id, token: await t.token('courier', { subject: id }) };
}
