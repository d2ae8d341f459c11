import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createPlatform, type Platform } from '../../../src/composition/runtime.ts';
import { SERVICES, SERVICE_NAMES } from '../../../src/composition/services.ts';
import type { Role } from '../../../src/platform/auth/index.ts';
import { loadConfig } from '../../../src/platform/config/index.ts';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import { createDeliveryService, type DeliveryPorts, type DeliveryServiceOptions } from '../../../src/services/delivery/index.ts';
import { restaurantDirectory } from '../../../src/services/platform/index.ts';
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
 * Ports over the real services: the restaurant directory and a courier lookup in-process, and
 * ordering's assign-courier through its HTTP route as an admin (read the version, send it as If-Match,
 * re-read and retry on 412), and the order's courier read through GET /v1/orders/:id. A refusal comes back as a BrigadeError with ordering's status and code.
 */
export function deliveryPorts(app: () => Platform['app'], sign: () => Promise<string>): (deps: ServiceDeps) => DeliveryPorts {
  return (deps) => ({
    restaurants: restaurantDirectory(deps.unitOfWork),
    couriers: {
      courier: async (id) => {
        const found = await deps.unitOfWork({ service: 'platform', actor: { kind: 'courier', id }, readOnly: true }, (tx) => getCourier(tx, id));
        return found === null ? null : { id: found.id, city: found.city };
      },
    },
    orders: {
      async assignCourier({ orderId, courierId }) {
        const authorization = `Bearer ${await sign()}`;
        for (let attempt = 0; ; attempt++) {
          const read = await app().inject({ method: 'GET', url: `/v1/orders/${orderId}`, headers: { authorization } });
          if (read.statusCode !== 200) throw new BrigadeError(read.json().code ?? 'ORDER_UNREADABLE', read.statusCode, read.body);
          const res = await app().inject({
            method: 'POST',
            url: `/v1/orders/${orderId}/assign-courier`,
            headers: { authorization, 'if-match': String(read.headers.etag) },
            payload: { courierId },
          });
          if (res.statusCode === 200) return;
          if (res.statusCode === 412 && attempt < 5) continue;
          throw new BrigadeError(res.json().code ?? 'ORDER_COMMAND_FAILED', res.statusCode, res.body);
        }
      },
      async orderCourier({ orderId }) {
        const read = await app().inject({ method: 'GET', url: `/v1/orders/${orderId}`, headers: { authorization: `Bearer ${await sign()}` } });
        if (read.statusCode === 404) return null;
        if (read.statusCode !== 200) throw new BrigadeError(read.json().code ?? 'ORDER_UNREADABLE', read.statusCode, read.body);
        return { courierId: (read.json().courierId as string | null | undefined) ?? null };
      },
    },
  });
}

/** Starts the platform, the delivery service created with {@link createDeliveryService} in place of the bare module. */
export async function startDeliveryPlatform(options: DeliveryServiceOptions = {}): Promise<DeliveryPlatform> {
  const db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '8' }, { services: SERVICE_NAMES });
  // The ports need the app, which exists only once the platform is built with them.
  const late: { platform?: Platform } = {};
  const ports = deliveryPorts(() => late.platform!.app, () => late.platform!.deps.tokens.sign({ role: 'admin', subject: 'delivery-dispatch' }));
  const delivery = createDeliveryService(ports, options);
  const platform = await createPlatform(config, { url: db.url, embedded: null }, { logger: false, services: SERVICES.map((s) => (s.name === 'delivery' ? delivery : s)) });
  late.platform = platform;
  const built = platform;
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
