import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { authorize, callerOf, NameText, NameTextOrEmpty } from '../../api/index.ts';
import type { Principal, Role } from '../../platform/auth/index.ts';
import type { UnitOfWorkContext } from '../../platform/db/index.ts';
import type { EventStore } from '../../platform/events/index.ts';
import { ConcurrencyError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from '../../platform/errors/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import type { CommandActor, OrderCommand } from './domain/orderCommands.ts';
import type { OrderEvent } from './domain/orderEvents.ts';
import { absentBodyIsEmpty, etagOf, fieldAt, IDEMPOTENCY_KEY_RULE, ifMatchVersion, headerLines, inputAt, NoFields, readIdempotencyKey } from '../../api/index.ts';
import { CourierOrderNotFoundError } from './errors.ts';
import { requestLineage } from './operations/lineage.ts';
import { loadOrderAndCommit } from './operations/loadOrder.ts';
import { locateOrder } from './operations/locateOrder.ts';
import { placeOrder, type PlaceOrderBody } from './operations/placeOrder.ts';
import { orderCommands } from './orderCommandsAdapter.ts';
import { runOrderCommand } from './operations/runOrderCommand.ts';
import { formatPosition } from '../../platform/projections/index.ts';
import { toOrderView, type OrderView } from './orderView.ts';
import type { OrderingPorts } from './ports.ts';
import { isUuid } from '../../platform/ids/index.ts';
import { revealEventData, revealOrders } from './operations/revealPersonalFields.ts';
import { eventsForCaller } from './operations/eventsForCaller.ts';
import { orderForCaller } from './operations/orderForCaller.ts';
import { isSealed } from '../../platform/temporal/index.ts';

const Uuid = Type.String({ format: 'uuid' });
// Reasons follow the name rule (one line, decision 0083): the customer's tracking page, the board and the
// order's events show them, where an ESC sequence, a bidi override or a lone CR disguised what was said.
const REASON_RULE = 'one line: no space at either end, no control or bidi-override character, zero-width space or U+FFFD';
const Reason = { ...NameText(500), description: `why, shown to the customer; not blank, ${REASON_RULE}` };
const IdParams = Type.Object({ id: Uuid });
const bearer = [{ bearer: [] }];
/** What a caller who may not see an order is told. */
const ORDER_HIDDEN = 'NOT_FOUND: no such order, or not one this caller may see';
/** A courier's command's 404: the same two cases, said so that the courier knows what to do. */
const ORDER_HIDDEN_FROM_COURIER = `${ORDER_HIDDEN}; to a courier: "not found, or no longer assigned to you" (reassigned), without saying which: refresh the task list`;
/** What a token of a customer or courier that names nobody is told. */
const NOT_A_PERSON = "FORBIDDEN: a customer's or courier's token whose subject is not their id";
/** The cancel's own errors: a customer's reason is sealed under their key (decision 0090), and none is made once they were erased. */
const CANCEL_ERRORS: Record<number, string> = { 410: "SUBJECT_ERASED: a customer's cancel met their erasure (their token is refused from then on: 401)" };
/** What an order answered to a courier leaves out (decision 0025): whose order it is. */
const CUSTOMER_HIDDEN_FROM_COURIER = 'to a courier, customerId is null (they are not told whose order it is; the delivery address stays)';
/** What a read of an order answers besides its 400 and 401. */
const READ_ERRORS = { 403: NOT_A_PERSON, 404: ORDER_HIDDEN };

const PlaceBody = Type.Object(
  {
    restaurantId: Uuid,
    // One line under the name rule (decision 0083): the courier's page and the board show it as they show names.
    deliveryAddress: { ...NameText(500), description: 'where to deliver: one line, no space at either end, no control or bidi-override character' },
    lines: Type.Array(
      Type.Object(
        {
          itemId: Uuid,
          quantity: Type.Integer({ minimum: 1, maximum: 100 }),
          modifierIds: Type.Optional(Type.Array(Uuid, { maxItems: 50 })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 50 },
    ),
    expectedTotal: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'the total (minor units) the customer was shown; when the menu now prices the lines otherwise the order is refused with 409 ORDER_TOTAL_CHANGED, whose details carry the new prices',
      }),
    ),
  },
  { additionalProperties: false },
);

/** One command route: who may send it, its body, and how the body becomes the command. */
interface CommandRoute {
  readonly roles: readonly Role[];
  readonly summary: string;
  readonly body?: TSchema;
  readonly build: (by: CommandActor, body: Record<string, unknown>) => OrderCommand;
  /** What the command names outside the order, checked against the directories once the version matched (412 first), before `decide`: 422 when wrong. */
  readonly verify?: (ports: OrderingPorts, restaurantId: string, body: Record<string, unknown>) => Promise<void>;
  /** What must happen after `decide` and before the events commit, given the events about to be appended. */
  readonly beforeAppend?: (ports: OrderingPorts, restaurantId: string, orderId: string, events: readonly OrderEvent[]) => Promise<void>;
}

const COMMANDS: Record<Exclude<OrderCommand['type'], 'place' | 'raise-dispatch-alert' | 'unassign-courier'>, CommandRoute> = {
  accept: {
    roles: ['staff', 'admin'],
    summary: 'Accept a placed order, with an optional ETA (staff)',
    body: Type.Object({ etaMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })) }, { additionalProperties: false }),
    build: (by, b) => (typeof b.etaMinutes === 'number' ? { type: 'accept', by, etaMinutes: b.etaMinutes } : { type: 'accept', by }),
  },
  reject: {
    roles: ['staff', 'admin'],
    summary: 'Reject a placed order (staff)',
    body: Type.Object({ reason: Reason }, { additionalProperties: false }),
    build: (by, b) => ({ type: 'reject', by, reason: String(b.reason) }),
  },
  'mark-item-prepared': {
    roles: ['staff', 'admin'],
    summary: 'Mark one line of an accepted order prepared (staff)',
    body: Type.Object({ lineId: Uuid }, { additionalProperties: false }),
    build: (by, b) => ({ type: 'mark-item-prepared', by, lineId: String(b.lineId) }),
  },
  ready: { roles: ['staff', 'admin'], summary: 'Mark an accepted order ready for pick-up (staff)', build: (by) => ({ type: 'ready', by }) },
  'assign-courier': {
    roles: ['staff', 'admin'],
    summary: 'Assign (or reassign) the courier of an accepted or ready order: a courier of the restaurant\'s city (staff, admin; the delivery service later)',
    body: Type.Object({ courierId: Uuid }, { additionalProperties: false }),
    build: (by, b) => ({ type: 'assign-courier', by, courierId: String(b.courierId) }),
    verify: (ports, restaurantId, b) => verifyCourierServes(ports, restaurantId, String(b.courierId)),
    beforeAppend: reserveAssignedCourier,
  },
  cancel: {
    roles: ['customer', 'staff', 'admin'],
    summary: 'Cancel: a customer before the restaurant accepts, staff before pick-up; an admin also after pick-up (an order lost in transit), with a reason',
    body: Type.Object(
      {
        reason: Type.Optional({
          ...NameTextOrEmpty(500),
          description: `why, shown to the customer: absent or empty for none, else ${REASON_RULE}; required (not empty) for an admin cancelling a picked-up order. A customer's own reason is kept sealed under their key and reads null once they are erased (decision 0090)`,
        }),
      },
      { additionalProperties: false },
    ),
    build: (by, b) => ({ type: 'cancel', by, reason: typeof b.reason === 'string' ? b.reason : '' }),
  },
  'pick-up': { roles: ['courier'], summary: 'Pick up a ready order (the assigned courier)', build: (by) => ({ type: 'pick-up', by }) },
  deliver: { roles: ['courier'], summary: 'Deliver a picked-up order (the assigned courier)', build: (by) => ({ type: 'deliver', by }) },
};

/**
 * A courier staff assign must be one the courier directory knows, of the restaurant's city: an order
 * assigned to anybody else would sit in dispatch as taken by a courier who can never pick it up.
 *
 * @throws {UnprocessableError} `COURIER_UNKNOWN` or `COURIER_OTHER_CITY` (422), naming `courierId`.
 */
async function verifyCourierServes(ports: OrderingPorts, restaurantId: string, courierId: string): Promise<void> {
  const [courier, restaurant] = await Promise.all([ports.couriers.courier(courierId), ports.restaurants.restaurant(restaurantId)]);
  if (courier === null) {
    throw new UnprocessableError('COURIER_UNKNOWN', `No courier ${courierId} is signed up; assign the id of a courier of the restaurant's city`, { field: 'courierId', courierId });
  }
  if (restaurant !== null && courier.city !== restaurant.city) {
    throw new UnprocessableError('COURIER_OTHER_CITY', `Courier ${courierId} works in ${courier.city}, not in ${restaurant.city} where the restaurant is; assign a courier of ${restaurant.city}`, {
      field: 'courierId',
      courierId,
      courierCity: courier.city,
      restaurantCity: restaurant.city,
    });
  }
}

/**
 * Staff's courier is reserved in delivery before ordering records the assignment (decision 0084):
 * delivery learns of CourierAssigned only through the outbox, and its dispatch could hand the courier
 * another order in between. Nothing to reserve when the courier is already the order's (no event).
 */
async function reserveAssignedCourier(ports: OrderingPorts, restaurantId: string, orderId: string, events: readonly OrderEvent[]): Promise<void> {
  for (const event of events) {
    if (event.type !== 'CourierAssigned') continue;
    await ports.reservations.reserveCourier({ restaurantId, orderId, courierId: event.data.courierId, assignment: event.data.assignment ?? 1 });
  }
}

/**
 * The ordering service's write side over HTTP: place (with an Idempotency-Key), read (state and
 * events), and the lifecycle commands (If-Match with the stream version; 428 without it, 412 when
 * stale). Every response carries the order's `version` (also its ETag) and the global `position` of
 * its last event, for read-your-writes on the read models (`?after=<position>`).
 */
export function orderingRoutes(ports: OrderingPorts, store: EventStore): FastifyPluginAsync<{ deps: ServiceDeps }> {
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const { unitOfWork, commitStatements } = deps;
    /** A placement whose customer was erased meanwhile cancels its order as the erasure's actor (decision 0090). */
    const erasedCustomers = orderCommands(deps, 'customer-erasure');

    /** The actor a principal acts as; customers and couriers must carry their UUID as the subject. */
    const actorOf = (principal: Principal): CommandActor => {
      if ((principal.role === 'customer' || principal.role === 'courier') && !isUuid(principal.subject)) {
        throw new ForbiddenError(`A ${principal.role} token must carry the ${principal.role}'s id as its subject`);
      }
      return { kind: principal.role, id: principal.subject };
    };

    /**
     * The transaction context for acting on order `id`, with its restaurant as the tenant. Staff act
     * in their own restaurant (an order of another one is simply not in its stream: the caller reads
     * it before anything else of the request, for the same 404); everybody else finds the restaurant
     * in the order index, which RLS filters per actor. 404 when not visible.
     * `replicaOk`: the lookup may use the read replica (a read whose answer goes straight back).
     */
    const orderContext = async (request: FastifyRequest, id: string, roles: readonly Role[], replicaOk = false): Promise<UnitOfWorkContext> => {
      const principal = authorize(request, ...roles);
      const actor = actorOf(principal);
      if (principal.role === 'staff') return { service: 'ordering', tenantId: principal.restaurantId, actor };
      // A moved restaurant's orders are indexed in its own database: look in every one.
      const location = await deps.placements.findInEveryDatabase({ service: 'ordering', actor, readOnly: true, replicaOk }, (tx) => locateOrder(tx, id));
      if (location === null) throw new NotFoundError('order', id);
      return { service: 'ordering', tenantId: location.restaurantId, actor };
    };

    const readOrder = async (request: FastifyRequest, id: string) => {
      const context = await orderContext(request, id, ['customer', 'staff', 'courier', 'admin'], true);
      const loaded = await loadOrderAndCommit(store, commitStatements, { ...context, replicaOk: true }, id);
      if (loaded === null) throw new NotFoundError('order', id);
      return loaded;
    };

    /**
     * The order as `request`'s caller is answered it: the customer's delivery address, and cancel reason,
     * opened (`null` once the customer was erased, decision 0090); to a courier without the customer's id
     * (`orderForCaller`, decision 0025).
     */
    const reveal = async (request: FastifyRequest, order: OrderView): Promise<OrderView> =>
      orderForCaller((await revealOrders([order], ports.customerKeys.readKeys))[0]!, callerOf(request));

    app.post(
      '/orders',
      {
        schema: {
          tags: ['ordering'],
          summary: 'Place an order (customer). Idempotency-Key: the same key and body return the same order (201, then 200); another body gets 422',
          security: bearer,
          headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ description: '1–255 visible ASCII characters, no spaces (e.g. a UUID), new for each new order; 400 without it, or with one that breaks this rule (the detail says how)' })) }),
          body: PlaceBody,
        },
        config: {
          docs: {
            success: { 201: 'Placed: the new order, at version 1', 200: 'The order this Idempotency-Key placed before, for the same body (a replay)' },
            etag: true,
            headers: { Location: 'The order: /v1/orders/{id}' },
            requiredHeaders: ['idempotency-key'],
            errors: {
              403: `FORBIDDEN: not a customer token, or ${NOT_A_PERSON.slice('FORBIDDEN: '.length)}`,
              404: 'NOT_FOUND: no such restaurant',
              409: 'ORDER_TOTAL_CHANGED (expectedTotal is not what the menu now charges; the details carry the new prices), RESTAURANT_NOT_TAKING_ORDERS (its staff paused new orders; the details carry `until`, null until they resume, and `reason`; nothing was charged), IDEMPOTENCY_KEY_IN_FLIGHT (the same key is being placed: retry)',
              410: 'SUBJECT_ERASED: the customer was erased (decision 0090): nothing more is recorded for them, nor replayed under a key of theirs (an order whose placement met the erasure is cancelled at once)',
              422: "IDEMPOTENCY_KEY_REUSED (another body under this key), MENU_ITEM_UNAVAILABLE, MENU_ITEM_SOLD_OUT, MODIFIER_CHOICE_INVALID, ORDER_TOTAL_TOO_HIGH, …",
            },
          },
        },
      },
      async (request, reply) => {
        const principal = authorize(request, 'customer');
        const actor = actorOf(principal);
        const { key, fault } = readIdempotencyKey(headerLines(request.raw.rawHeaders, 'idempotency-key'));
        if (key === null) throw new ValidationError(`${fault}; an Idempotency-Key is ${IDEMPOTENCY_KEY_RULE}, new for each new order`, { field: 'Idempotency-Key' });
        // What the server seals starts so (decision 0090): an address that did would read as sealed.
        if (isSealed((request.body as PlaceOrderBody).deliveryAddress)) {
          throw new ValidationError('deliveryAddress may not start with "sealed:v1:" (the form of a sealed value): write the address itself', { field: 'body.deliveryAddress' });
        }
        const { order, created } = await placeOrder(
          {
            unitOfWork,
            findInEveryDatabase: (context, fn, lookup) => deps.placements.findInEveryDatabase(context, fn, lookup),
            placementOf: (tenantId) => deps.placements.placementOf(tenantId),
            store,
            menu: ports.menu,
            customerKeys: ports.customerKeys,
            cancelOrder: erasedCustomers.cancelOrder,
          },
          { customerId: actor.id, key, body: request.body as PlaceOrderBody, lineage: requestLineage(String(request.id), request.headers.traceparent) },
        ).catch(inputAt('body'));
        return reply
          .status(created ? 201 : 200)
          .header('etag', etagOf(order.version))
          .header('location', `/v1/orders/${order.id}`)
          .send(await reveal(request, order));
      },
    );

    app.get(
      '/orders/:id',
      {
        schema: { tags: ['ordering'], summary: 'An order as its events fold it, with its version as ETag (its customer, restaurant staff, assigned courier, admin)', security: bearer, params: IdParams },
        config: { docs: { success: { 200: `The order, with its version and the position of its last event; ${CUSTOMER_HIDDEN_FROM_COURIER}` }, etag: true, errors: READ_ERRORS } },
      },
      async (request, reply) => {
        const { id } = request.params;
        const loaded = await readOrder(request, id);
        return reply.header('etag', etagOf(loaded.version)).send(await reveal(request, toOrderView(loaded.state, loaded.version, loaded.events.at(-1)!.globalPosition)));
      },
    );

    app.get(
      '/orders/:id/events',
      {
        schema: { tags: ['ordering'], summary: "An order's event stream with each event's metadata (lineage)", security: bearer, params: IdParams },
        config: {
          docs: {
            success: {
              200: "The order's events, oldest first. To a customer or a courier, anyone else who acted is named by kind only (metadata.actor), and a courier who no longer has the order is courierId null; to a courier, OrderPlaced's data.customerId and metadata.encryption.keyId are null (the customer is not named to them)",
            },
            etag: true,
            errors: READ_ERRORS,
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const loaded = await readOrder(request, id);
        const events = loaded.events.map((e) => ({
            streamId: e.streamId,
            streamVersion: e.streamVersion,
            type: e.type,
            schemaVersion: e.schemaVersion,
            data: e.data,
            metadata: e.metadata,
            position: formatPosition(e.globalPosition),
          }));
        return reply.header('etag', etagOf(loaded.version)).send({
          orderId: id,
          version: loaded.version,
          // Personal fields opened, as on the order (null once the customer was erased); metadata.encryption
          // says which. A customer or courier is told who else acted by kind only (eventsForCaller).
          events: await revealEventData(eventsForCaller(events, callerOf(request)!, loaded.state.courierId), ports.customerKeys.readKeys),
        });
      },
    );

    for (const [name, route] of Object.entries(COMMANDS) as Array<[keyof typeof COMMANDS, CommandRoute]>) {
      app.post(
        `/orders/:id/${name}`,
        {
          schema: { tags: ['ordering'], summary: `${route.summary}; If-Match: the version`, security: bearer, params: IdParams, body: route.body ?? NoFields },
          config: {
            docs: {
              success: { 200: `The order at its new version, with the position of its last event (for ?after= on the views); ${CUSTOMER_HIDDEN_FROM_COURIER}` },
              etag: true,
              ifMatch: true,
              errors: {
                403: `FORBIDDEN: a role that may not ${name} an order, or ${NOT_A_PERSON.slice('FORBIDDEN: '.length)}`,
                404: route.roles.includes('courier') ? ORDER_HIDDEN_FROM_COURIER : ORDER_HIDDEN,
                422: `ORDER_TRANSITION_FORBIDDEN: the order's state does not take ${name}${route.verify === undefined ? '' : '; COURIER_UNKNOWN, COURIER_OTHER_CITY, COURIER_STOPPING (the courier is on a delivery and asked to stop after it)'}${name === 'mark-item-prepared' ? '; ORDER_LINE_UNKNOWN, ORDER_ITEM_ALREADY_PREPARED' : ''}${name === 'pick-up' ? '; ORDER_COURIER_NOT_ASSIGNED' : ''}${name === 'cancel' ? '; ORDER_CANCEL_REASON_REQUIRED (an admin cancelling a picked-up order without a reason)' : ''}`,
                ...(name === 'cancel' ? CANCEL_ERRORS : {}),
              },
            },
          },
          // A command without fields may come without a body: validate it as {} (required fields still fail).
          preValidation: absentBodyIsEmpty,
        },
        async (request: FastifyRequest, reply: FastifyReply) => {
          const { id } = request.params as { id: string };
          return handleCommand(request, reply, id, route).catch((error: unknown) => {
            // A courier's order may have been given to another courier since their list was drawn:
            // the 404 says so, and to refresh, for that case and an order that never was alike.
            if (request.principal?.role === 'courier' && error instanceof NotFoundError && error.details.resource === 'order') throw new CourierOrderNotFoundError(id);
            // courierId, reason, …: the operations name the body's fields bare.
            throw fieldAt(error, 'body');
          });
        },
      );
    }

    /** A lifecycle command (`route`) on order `id`: the commands' handler, but for a courier's 404. */
    async function handleCommand(request: FastifyRequest, reply: FastifyReply, id: string, route: CommandRoute) {
      const context = await orderContext(request, id, route.roles);
      // Who before what, as for every caller: the order first, read here (the read the command needs
      // anyway, so no extra round trip), so that staff, whose context is their own restaurant
      // unlooked-up, get 404 for an order that is not in its stream before If-Match's 428 or 400;
      // then the version (412, in runOrderCommand), then the directories (422), then decide.
      const loaded = await loadOrderAndCommit(store, commitStatements, context, id);
      if (loaded === null) throw new NotFoundError('order', id);
      const expectedVersion = ifMatchVersion(request.headers['if-match']);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const command = route.build(context.actor as CommandActor, body);
      const tenantId = context.tenantId!;
      const beforeDecide = route.verify === undefined ? undefined : () => route.verify!(ports, tenantId, body);
      const beforeAppend = route.beforeAppend === undefined ? undefined : (events: readonly OrderEvent[]) => route.beforeAppend!(ports, tenantId, id, events);
      const order = await runOrderCommand(
        { commitStatements, store, customerKeys: ports.customerKeys },
        {
          context,
          orderId: id,
          expectedVersion,
          command,
          loaded,
          lineage: requestLineage(String(request.id), request.headers.traceparent),
          ...(beforeDecide === undefined ? {} : { beforeDecide }),
          ...(beforeAppend === undefined ? {} : { beforeAppend }),
        },
      ).catch(async (error: unknown) => {
        // The 412 carries the order as it is now: opened like every answer's.
        if (!(error instanceof ConcurrencyError) || error.details.current === undefined) throw error;
        throw new ConcurrencyError(error.expected, error.actual, error.message, { ...error.details, current: await reveal(request, error.details.current as OrderView) });
      });
      return reply.header('etag', etagOf(order.version)).send(await reveal(request, order));
    }
  };
}
