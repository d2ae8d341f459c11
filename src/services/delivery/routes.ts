import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorContext, authorize } from '../../api/index.ts';
import { ForbiddenError } from '../../platform/errors/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { CourierNotRegisteredError } from './errors.ts';
import { getAvailability, setAvailability } from './operations/availability.ts';
import { wakeOneInCity } from './operations/wakeCity.ts';
import type { DeliveryPorts } from './ports.ts';
import { isUuid } from '../../platform/ids/index.ts';

const bearer = [{ bearer: [] }];
/** What a courier's request may be refused with, besides its input's 400. */
const COURIER_ERRORS = {
  403: "FORBIDDEN: not a courier token, or one whose subject is not the courier's id",
  404: 'NOT_FOUND: the courier is not registered',
};
const AvailabilitySchema = Type.Object({
  courierId: Type.String({ format: 'uuid' }),
  city: Type.String(),
  status: Type.Union([Type.Literal('available'), Type.Literal('busy'), Type.Literal('offline')]),
  availableSince: Type.Union([Type.String(), Type.Null()]),
  currentOrderId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
});

/**
 * The delivery service's routes: a courier marks themselves available (or offline) in their city and
 * reads it back. The city comes from the courier directory (platform.couriers), never from the body.
 */
export function deliveryRoutes(ports: DeliveryPorts): FastifyPluginAsync<{ deps: ServiceDeps }> {
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const { unitOfWork } = deps;

    /** The calling courier (their token's subject) as the directory knows them; 404 when unknown. */
    const courierOf = async (principal: ReturnType<typeof authorize>) => {
      if (!isUuid(principal.subject)) throw new ForbiddenError("A courier token must carry the courier's id as its subject");
      const courier = await ports.couriers.courier(principal.subject);
      if (courier === null) throw new CourierNotRegisteredError(principal.subject);
      return courier;
    };

    app.post(
      '/couriers/me/availability',
      {
        schema: {
          tags: ['delivery'],
          summary: 'Mark yourself available for dispatch in your city, or offline (courier); 422 COURIER_BUSY while carrying an order',
          security: bearer,
          body: Type.Object({ available: Type.Boolean() }, { additionalProperties: false }),
          response: { 200: AvailabilitySchema },
        },
        config: { docs: { errors: { ...COURIER_ERRORS, 422: 'COURIER_BUSY: going offline while carrying an order' } } },
      },
      async (request) => {
        const principal = authorize(request, 'courier');
        const courier = await courierOf(principal);
        return unitOfWork(actorContext(principal, 'delivery', null), async (tx) => {
          const { availability, becameFree } = await setAvailability(tx, { courierId: courier.id, city: courier.city, available: request.body.available });
          // A courier who just became free for the dispatch wakes one waiting order of the city (as the
          // dispatch system, after this commit, so the wake sees them). Not one who was available already
          // or whom staff hold: the woken order would find no courier it can take and spend an attempt.
          if (becameFree) {
            tx.afterCommit(() => unitOfWork({ service: 'delivery', actor: { kind: 'system', id: 'delivery-availability' } }, (w) => wakeOneInCity(w, availability.city)).then(() => undefined));
          }
          return availability;
        });
      },
    );

    app.get(
      '/couriers/me/availability',
      { schema: { tags: ['delivery'], summary: 'Your dispatch availability (courier); offline when never set', security: bearer, response: { 200: AvailabilitySchema } }, config: { docs: { errors: COURIER_ERRORS } } },
      async (request) => {
        const principal = authorize(request, 'courier');
        const courier = await courierOf(principal);
        const row = await unitOfWork({ ...actorContext(principal, 'delivery', null), readOnly: true }, (tx) => getAvailability(tx, courier.id));
        return row ?? { courierId: courier.id, city: courier.city, status: 'offline' as const, availableSince: null, currentOrderId: null };
      },
    );
  };
}
