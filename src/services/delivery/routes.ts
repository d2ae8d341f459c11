import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorContext, authorize } from '../../api/index.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { courierDispatch } from './courierDispatchAdapter.ts';
import { CourierNotRegisteredError } from './errors.ts';
import { getAvailability, setAvailability } from './operations/availability.ts';
import { listAssignableCouriers } from './operations/listAssignableCouriers.ts';
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
  availableSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'since when an available courier has waited (the dispatch gives an order to the one who has waited longest); null unless status is available',
  }),
  currentOrderId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  afterCurrentOrder: Type.Union([Type.Literal('available'), Type.Literal('offline'), Type.Null()], {
    description:
      "what a busy courier becomes when the order they carry ends: available, or offline when they said they would stop (POST available: false while busy); what they said last counts. Delivery learns of a delivery from ordering's OrderDelivered, within milliseconds to seconds, so a courier who has just delivered is busy until then. Null when not busy",
  }),
  notice: Type.Union([Type.String(), Type.Null()], {
    description:
      'why the courier is off dispatch when they did not choose it, in words to show them: an order was taken off them because they had not picked it up within the pick-up deadline (PICKUP_DEADLINE_MINUTES), and they take no orders until they press Start (POST available: true, which ends the notice). Null otherwise',
  }),
});
/** What an admin's request about a courier's availability may be refused with, besides its input's 400. */
const ADMIN_COURIER_ERRORS = {
  403: 'FORBIDDEN: not an admin token',
  404: 'NOT_FOUND: no courier of that id is registered (POST /v1/couriers)',
};
/** The courier's availability when delivery has no row of them: they never said they were available. */
const neverAvailable = (courier: { readonly id: string; readonly city: string }) =>
  ({ courierId: courier.id, city: courier.city, status: 'offline' as const, availableSince: null, currentOrderId: null, afterCurrentOrder: null, notice: null });
/** The most couriers one answer of `GET /restaurants/:rid/couriers` lists (`more` says whether the city has others). */
const ASSIGNABLE_LIMIT = 200;
const AssignableCourierSchema = Type.Object({
  courierId: Type.String({ format: 'uuid' }),
  name: Type.Union([Type.String(), Type.Null()], { description: "the courier's name in the platform's directory; null if the directory does not know them" }),
  status: Type.Union([Type.Literal('available'), Type.Literal('busy')], { description: 'available: waiting for an order; busy: carrying one, takes the assigned order after it (a busy courier who asked to stop after their current order is not listed)' }),
  held: Type.Boolean({ description: "held off the dispatch by staff's reassignment of another order: assignable, but likely busy with that order" }),
  heldUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'when the hold is next settled with ordering: it ends then, unless ordering has the courier on that order (then it lasts until that assignment reaches delivery); null when not held',
  }),
  availableSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'since when an available courier has waited; null when busy' }),
});
const AssignableCouriersSchema = Type.Object({
  city: Type.String({ description: "the restaurant's city, as the platform's directory spells it" }),
  couriers: Type.Array(AssignableCourierSchema),
  more: Type.Boolean({ description: `the city has more assignable couriers than the ${ASSIGNABLE_LIMIT} listed` }),
});

/**
 * The delivery service's routes: a courier marks themselves available (or offline) in their city and
 * reads it back (the city comes from the courier directory, platform.couriers, never from the body);
 * a restaurant's staff list the couriers of its city they may assign to an order (decision 0089); an
 * admin reads a courier's availability and takes them off dispatch (`courierDispatch`).
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
          summary:
            'Mark yourself available for dispatch in your city, or offline (courier). While you carry an order you stay busy, and the answer says what you become when it ends (afterCurrentOrder): offline after available: false, available after available: true',
          security: bearer,
          body: Type.Object({ available: Type.Boolean() }, { additionalProperties: false }),
          response: { 200: AvailabilitySchema },
        },
        config: { docs: { errors: COURIER_ERRORS } },
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
        return row ?? neverAvailable(courier);
      },
    );

    // An admin takes a courier off dispatch (one who left, or stopped answering without pressing Stop),
    // as the revocation of the courier's tokens also does (decision 0040, "Fixed later (forty-seventh
    // session, 7 Dec 2026)"). Only off: a courier comes back by pressing "Start taking deliveries".
    const CourierParams = Type.Object({ courierId: Type.String({ format: 'uuid' }) });
    const dispatch = courierDispatch({ unitOfWork, couriers: ports.couriers, orders: ports.orders });

    app.post(
      '/couriers/:courierId/availability',
      {
        schema: {
          tags: ['delivery'],
          summary:
            "Take a courier off dispatch (admin): available: false, with the rules of the courier's own Stop. An idle courier is offline now; one carrying an order stays busy and is offline when it ends (afterCurrentOrder), and meanwhile staff's courier list leaves them out and assign-courier refuses them (422 COURIER_STOPPING). Revoking a courier's tokens does the same",
          description:
            'Only off: available: true is refused (400), as only the courier can say they are there to take deliveries (POST /v1/couriers/me/availability). ' +
            'Staff may still give an offline courier an order with assign-courier (decisions 0042, 0089). Recorded in the admin audit log (target.takenOffDispatch).',
          security: bearer,
          params: CourierParams,
          body: Type.Object({ available: Type.Boolean({ description: 'false: take the courier off dispatch' }) }, { additionalProperties: false }),
          response: { 200: AvailabilitySchema },
        },
        config: { docs: { success: { 200: "The courier's availability after it: offline, or busy and offline after the current order" }, errors: ADMIN_COURIER_ERRORS } },
      },
      async (request) => {
        authorize(request, 'admin');
        const { courierId } = request.params;
        if (request.body.available) {
          throw new ValidationError(
            'body.available: an admin can only take a courier off dispatch (false); a courier makes themselves available by pressing "Start taking deliveries" (POST /v1/couriers/me/availability)',
            { field: 'body.available' },
          );
        }
        const availability = await dispatch.takeOffDispatch(courierId);
        if (availability === null) throw new NotFoundError('courier', courierId);
        request.auditDetails = { takenOffDispatch: { courierId: availability.courierId, status: availability.status, currentOrderId: availability.currentOrderId } };
        return availability;
      },
    );

    app.get(
      '/couriers/:courierId/availability',
      {
        schema: {
          tags: ['delivery'],
          summary: "A courier's dispatch availability (admin); offline when never set",
          security: bearer,
          params: CourierParams,
          response: { 200: AvailabilitySchema },
        },
        config: { docs: { errors: ADMIN_COURIER_ERRORS } },
      },
      async (request) => {
        const principal = authorize(request, 'admin');
        const courier = await ports.couriers.courier(request.params.courierId);
        if (courier === null) throw new NotFoundError('courier', request.params.courierId);
        const row = await unitOfWork({ ...actorContext(principal, 'delivery', null), readOnly: true }, (tx) => getAvailability(tx, courier.id));
        return row ?? neverAvailable(courier);
      },
    );

    app.get(
      '/restaurants/:rid/couriers',
      {
        schema: {
          tags: ['delivery'],
          summary:
            "The couriers of the restaurant's city that staff may assign to its orders (POST /v1/orders/:id/assign-courier): available ones first (not held before held, longest waiting first), then busy ones, who take the order after their current one; offline couriers are not listed, nor busy ones who asked to stop taking deliveries after their current order (assign-courier refuses them: 422 COURIER_STOPPING) (staff, admin)",
          security: bearer,
          params: Type.Object({ rid: Type.String({ format: 'uuid' }) }),
          response: { 200: AssignableCouriersSchema },
        },
        config: {
          docs: {
            errors: {
              403: 'FORBIDDEN: not a staff or admin token',
              404: "NOT_FOUND: no such restaurant (or another restaurant's, for its staff)",
            },
          },
        },
      },
      async (request) => {
        const { rid } = request.params;
        const principal = authorize(request, 'staff', 'admin');
        // Another restaurant's id is a 404, never a 403 (DESIGN), as the hook says before validation.
        if (principal.role === 'staff' && principal.restaurantId?.toLowerCase() !== rid.toLowerCase()) throw new NotFoundError('restaurant', rid);
        // The city is the platform's to know: the directory's, as the dispatch and assign-courier use it.
        const restaurant = await ports.restaurants.restaurant(rid);
        if (restaurant === null) throw new NotFoundError('restaurant', rid);
        // Courier availability is not tenant data (a courier serves every restaurant of the city), but the
        // rows name the restaurants whose orders couriers carry: the restaurant is the tenant, and the
        // read shows only its own (delivery.couriers_of_city, migration 0028). Delivery's tenant rows stay
        // in the shared database, so the tenant takes no fence and no hop.
        const { couriers, more } = await unitOfWork({ ...actorContext(principal, 'delivery', restaurant.id), readOnly: true }, (tx) =>
          listAssignableCouriers(tx, restaurant.city, ASSIGNABLE_LIMIT),
        );
        const names = await ports.couriers.names(couriers.map((k) => k.courierId));
        return { city: restaurant.city, couriers: couriers.map((k) => ({ ...k, name: names.get(k.courierId) ?? null })), more };
      },
    );
  };
}
