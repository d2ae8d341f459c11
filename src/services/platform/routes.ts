import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { absentBodyIsEmpty, actorContext, actorOf, authorize, callerOf, EMAIL_ADDRESS, etagOf, fieldAt, ifMatchVersion, inputAt, NameText, NoFields } from '../../api/index.ts';
import { actorName, type UnitOfWorkContext } from '../../platform/db/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors/index.ts';
import { FIRST_PASSWORD_SIGNUP_SECONDS, MINT_CHAIN_MAX, ROLES, TOKEN_TTL_SECONDS } from '../../platform/auth/index.ts';
import { restaurantDirectory } from './directory.ts';
import { createCourier } from './operations/createCourier.ts';
import { mintToken } from './operations/mintToken.ts';
import { getCourier } from './operations/getCourier.ts';
import { createRestaurant } from './operations/createRestaurant.ts';
import { cityName } from './operations/findOrCreateCity.ts';
import { listRestaurants } from './operations/listRestaurants.ts';
import { getRestaurant } from './operations/getRestaurant.ts';
import { decodeRestaurantCursor, encodeRestaurantCursor } from './restaurantCursor.ts';
import { NewRestaurant, PickupAddress } from './newRestaurant.ts';
import { setPickupAddress } from './operations/setPickupAddress.ts';
import { eraseCustomer } from './operations/eraseCustomer.ts';
import { lockCustomerErasure } from './operations/lockCustomerErasure.ts';
import { CourierStillOnDispatchError, CustomerHasOpenOrdersError } from './operations/errors.ts';
import type { PlatformPorts } from './ports.ts';
import { getCustomer } from './operations/getCustomer.ts';
import { customerEmailTaken, signUpCustomer } from './operations/signUpCustomer.ts';
import { isCustomerEmailTaken } from './operations/isCustomerEmailTaken.ts';
import { signInCustomer } from './operations/signInCustomer.ts';
import { changeCustomerPassword } from './operations/changeCustomerPassword.ts';
import { confirmCurrentPassword } from './operations/confirmCurrentPassword.ts';
import { SIGN_IN_ACTOR, SIGN_IN_LIMIT } from './operations/reserveSignInAttempt.ts';
import { SIGN_IN_ATTEMPTS_KEY } from './operations/signInAttemptHash.ts';
import { clearCustomerPassword } from './operations/clearCustomerPassword.ts';
import { hashPassword, PASSWORD_LENGTH } from '../../platform/auth/index.ts';
import { addStaff } from './operations/addStaff.ts';
import { getStaffMember } from './operations/getStaffMember.ts';
import { listStaff } from './operations/listStaff.ts';
import { getPaymentMethod } from './operations/getPaymentMethod.ts';
import { removePaymentMethod } from './operations/removePaymentMethod.ts';
import { setPaymentMethod } from './operations/setPaymentMethod.ts';
import { revokeTokens } from './operations/revokeTokens.ts';
import { listTokenRevocations } from './operations/listTokenRevocations.ts';
import { NewTokenRevocation } from './newTokenRevocation.ts';
import { isUuid } from '../../platform/ids/index.ts';

const Uuid = Type.String({ format: 'uuid' });
const Name = NameText(200);
const City = NameText(100);
/** An e-mail address: one `@`, no white space, and (as a name, decision 0083) no control or bidi-override character. */
const Email = Type.String({ minLength: 3, maxLength: 320, pattern: EMAIL_ADDRESS });
/** A postal address: one line under the name rule (decision 0083), shown to couriers and staff as names are. */
const Address = NameText(500);
/** Restaurants a page of `GET /v1/restaurants` holds at most (and by default). */
const RESTAURANTS_PAGE = 500;
const RestaurantSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  city: Type.String(),
  cityId: Uuid,
  currency: Type.String(),
  pickupAddress: Type.Union([Type.String(), Type.Null()], { description: 'where couriers pick its orders up (NFC); null until set (PATCH /v1/restaurants/{rid})' }),
  createdAt: Type.String(),
  version: Type.Integer({ minimum: 1, description: 'counts its changes; GET /v1/restaurants/{rid} sends it as ETag, and PATCH /v1/restaurants/{rid} takes it as If-Match' }),
});
/**
 * Whether a restaurant takes new orders now (decision 0094), as the menu service keeps it: what the
 * directory's reads (`GET /v1/restaurants`, `GET /v1/restaurants/{rid}`) add to each restaurant, asked
 * through the `OrderTaking` port, so that a customer app browsing restaurants greys out the paused ones.
 */
const OrderTakingFields = {
  takingOrders: Type.Union([Type.Boolean(), Type.Null()], {
    description:
      'whether it takes new orders now: false while its staff have paused them (PUT /v1/restaurants/{rid}/order-pause), true again once they resume or the pause\'s until has passed; ' +
      "null when that could not be read now (the menu's database, or the restaurant's own, failed or did not answer in time): read its menu, or try again. Placing an order checks it anyway",
  }),
  pause: Type.Union(
    [
      Type.Object({
        reason: Type.Union([Type.String(), Type.Null()], { description: 'what its staff told customers, or null' }),
        until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when it takes orders again by itself, or null: when its staff resume' }),
        since: Type.String({ format: 'date-time', description: 'when the pause was made' }),
      }),
      Type.Null(),
    ],
    { description: 'the pause in force while takingOrders is false, as the menu shows it; else null' },
  ),
};
/** A restaurant as the directory's reads show it: with whether it takes new orders now. */
const ListedRestaurantSchema = Type.Object({ ...RestaurantSchema.properties, ...OrderTakingFields });
/** Who set or cleared the pick-up address last and when: shown to the restaurant's admins and staff, not in the public directory. */
const AddressChanges = {
  pickupAddressChangedBy: Type.Union([Type.String(), Type.Null()], {
    description: "who set or cleared the pick-up address last: the token's role and subject (staff:<staff id>, admin:<subject>); null until it was changed after the restaurant was made",
  }),
  pickupAddressChangedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when the pick-up address was set or cleared last; null until then' }),
};
const StaffSchema = Type.Object({
  id: Uuid,
  restaurantId: Uuid,
  name: Type.String(),
  email: Type.String(),
  role: Type.String(),
  invitedBy: Type.Union([Uuid, Type.Null()]),
  createdAt: Type.String(),
});
const CourierSchema = Type.Object({ id: Uuid, name: Type.String(), city: Type.String(), cityId: Uuid, createdAt: Type.String() });
const CustomerSchema = Type.Object({ id: Uuid, name: Type.String(), email: Type.String(), address: Type.String(), createdAt: Type.String() });
/** A password to set: its length bounds are the platform's (`PASSWORD_LENGTH`). */
const Password = (options: { description: string }) => Type.String({ minLength: PASSWORD_LENGTH.min, maxLength: PASSWORD_LENGTH.max, ...options });
/** The password the customer has now: what a token alone may not do once one is set asks for it (decisions 0007, 0090). */
const CurrentPassword = (what: string) =>
  Type.String({ minLength: 1, maxLength: PASSWORD_LENGTH.max, description: `the password you have now; required to ${what} once one is set (a customer without one needs only the token)` });
const PaymentMethodSchema = Type.Object({ cardLast4: Type.String({ pattern: '^[0-9]{4}$' }), updatedAt: Type.String() });
const RidParams = Type.Object({ rid: Uuid });
const TokenRevocationSchema = Type.Object({
  role: Type.String(),
  subject: Type.String(),
  revokedBefore: Type.String({ format: 'date-time', description: 'a whole second: tokens of the role and subject issued up to it, that second included, are refused (401 TOKEN_REVOKED)' }),
  validFrom: Type.String({ format: 'date-time', description: 'the next second: tokens issued from it on are valid' }),
  revokedBy: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
});
/** The revocation's answer: the revocation, and for an admin what else it refuses. */
const RevokedTokensSchema = Type.Object({
  ...TokenRevocationSchema.properties,
  alsoRefused: Type.Optional(
    Type.String({ description: "an admin's revocation: the tokens that admin minted (POST /v1/tokens), and those minted with them, issued up to revokedBefore, are refused too" }),
  ),
  passwordStays: Type.Optional(
    Type.String({
      description:
        "a customer's revocation: their password, if any, stays, so whoever knows it signs in again; if someone else may know it, also remove it (DELETE /v1/customers/{id}/password)",
    }),
  ),
  unmatched: Type.Optional(
    Type.String({
      description:
        "present only when the subject names nobody known: no staff, courier or customer row of the UUID (a staff member is looked for in every restaurant's database; absent when one of them does not answer), no admin audit entry by or minting the admin name. The revocation stands; check the spelling",
    }),
  ),
  takenOffDispatch: Type.Optional(
    Type.String({
      description:
        "a courier's revocation: the courier was taken off dispatch (offline; or, carrying an order, offline after it, which it names with what to do about it), or is not registered",
    }),
  ),
});
const bearer = [{ bearer: [] }];
const NOT_ADMIN = { 403: 'FORBIDDEN: not an admin token' };
/** What the calling customer's request may be refused with, besides its input's 400. */
const CUSTOMER_ERRORS = { 403: "FORBIDDEN: not a customer token, or one whose subject is not the customer's id" };
const NO_CARD = { ...CUSTOMER_ERRORS, 404: 'NOT_FOUND: no card on file' };
/** What a request about `rid`'s staff may be refused with, besides its input's 400. */
const STAFF_ERRORS = { 403: 'FORBIDDEN: not a staff or admin token', 404: "NOT_FOUND: no such restaurant (or another restaurant's, for its staff)" };

/** The platform service's routes: the directory, sign-up, staff, tokens (a courier's revocation asks `ports.dispatch`) and erasure (which asks `ports.orders`). */
export const platformRoutes: FastifyPluginAsync<{ deps: ServiceDeps; ports: PlatformPorts }> = async (plugin, { deps, ports }) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { unitOfWork, tokens } = deps;
  /** The key of the sign-in attempts' address hashes (decision 0007): sign-in, a password change and erasure use it. */
  const attemptsKey = deps.deriveKey(SIGN_IN_ATTEMPTS_KEY);
  const directory = restaurantDirectory(unitOfWork);
  /** A restaurant the directory does not know is a 404 (a token or a staff row for it would be an orphan). */
  const knownRestaurant = async (rid: string): Promise<void> => {
    if ((await directory.restaurant(rid)) === null) throw new NotFoundError('restaurant', rid);
  };
  /**
   * `rows` with whether each takes new orders now (`takingOrders`, `pause`), asked of the menu service
   * (`ports.orderTaking`) in one call for the page. A restaurant whose state could not be read gets
   * `takingOrders: null`, and so does every one when the menu could not be asked at all (logged): the
   * directory answers without that state rather than not at all.
   */
  const withOrderTaking = async <R extends { readonly id: string }>(request: FastifyRequest, rows: readonly R[]) => {
    const state = await ports.orderTaking.pausesOf(rows.map((row) => row.id)).catch((error: unknown) => {
      request.log.warn({ err: error }, 'whether restaurants take new orders could not be read from the menu service: the directory answers takingOrders null');
      return null;
    });
    const unread = new Set(state?.unread);
    return rows.map((row) => {
      if (state === null || unread.has(row.id)) return { ...row, takingOrders: null, pause: null };
      const pause = state.pauses.get(row.id) ?? null;
      return { ...row, takingOrders: pause === null, pause };
    });
  };
  const asAdmin = (request: Parameters<typeof authorize>[0], tenantId: string | null = null) => actorContext(authorize(request, 'admin'), 'platform', tenantId);
  /** The calling customer, whose token must carry their id as its subject. */
  const customerOf = (request: Parameters<typeof authorize>[0]) => {
    const principal = authorize(request, 'customer');
    if (!isUuid(principal.subject)) throw new ForbiddenError("A customer token must carry the customer's id as its subject");
    return principal;
  };

  app.post(
    '/restaurants',
    {
      schema: {
        tags: ['platform'],
        summary: 'Create a restaurant (a tenant) in a city (admin)',
        security: bearer,
        body: NewRestaurant,
        response: { 201: RestaurantSchema },
      },
      config: { docs: { success: { 201: 'The new restaurant' }, etag: true, errors: { ...NOT_ADMIN, 409: 'ALREADY_EXISTS: a restaurant of that name in that city' } } },
    },
    async (request, reply) => {
      const restaurant = await unitOfWork(asAdmin(request), (tx) => createRestaurant(tx, request.body)).catch(inputAt('body'));
      // What was made, as `brigade tenants add` audits it: an address's history begins here.
      const { id, name, city, pickupAddress } = restaurant;
      request.auditDetails = { created: { id, name, city, pickupAddress } };
      return reply.status(201).header('etag', etagOf(restaurant.version)).send(restaurant);
    },
  );

  app.patch(
    '/restaurants/:rid',
    {
      schema: {
        tags: ['platform'],
        summary: "Set or clear the restaurant's pick-up address, where couriers fetch its orders (its staff, or admin)",
        description:
          'Couriers see the new address in their tasks (GET /v1/couriers/me/tasks) at their next read, also for orders placed before the change. ' +
          'null clears it (couriers are then told to ask the restaurant). Kept in Unicode\'s composed form (NFC). ' +
          'Send the ETag of GET /v1/restaurants/{rid} as If-Match: a restaurant changed since (by another staff member) is not changed again (412, read it again). ' +
          'The restaurant records who changed the address and when (pickupAddressChangedBy, pickupAddressChangedAt, also in its GET for its staff and admins); an admin\'s change is in the admin audit log too.',
        security: bearer,
        params: RidParams,
        body: Type.Object({ pickupAddress: Type.Union([PickupAddress, Type.Null()]) }, { additionalProperties: false }),
        response: { 200: Type.Object({ ...RestaurantSchema.properties, ...AddressChanges }) },
      },
      config: { docs: { success: { 200: 'The restaurant as changed, at its new version' }, etag: true, ifMatch: true, errors: STAFF_ERRORS } },
    },
    async (request, reply) => {
      const { rid } = request.params;
      const principal = authorize(request, 'staff', 'admin');
      if (principal.role === 'staff' && principal.restaurantId !== rid) throw new NotFoundError('restaurant', rid);
      const expectedVersion = ifMatchVersion(request.headers['if-match']);
      // The directory is the shared database's, also for a restaurant moved to a database of its own
      // (which holds a copy of its row only for its keys): a staff member's transaction would be routed
      // there, and only admins write the directory (RLS). Their change runs as the directory, as its
      // reads do (directory.ts), once their token's restaurant is checked above; it sets this column only.
      // The row names them (changedBy), and the write counts as theirs for their next reads (ownWritesOf:
      // read-your-writes on a standby, decision 0082).
      const context =
        principal.role === 'admin' ? asAdmin(request) : { service: 'platform', tenantId: null, actor: { kind: 'admin' as const, id: 'directory' }, ownWritesOf: actorOf(principal) };
      const restaurant = await unitOfWork(context, (tx) =>
        setPickupAddress(tx, rid, { address: request.body.pickupAddress, expectedVersion, changedBy: actorName(actorOf(principal)) }),
      );
      if (restaurant === null) throw new NotFoundError('restaurant', rid);
      request.auditDetails = { pickupAddress: restaurant.pickupAddress, version: restaurant.version };
      return reply.header('etag', etagOf(restaurant.version)).send(restaurant);
    },
  );

  app.get(
    '/restaurants',
    {
      schema: {
        tags: ['platform'],
        summary: 'List restaurants, optionally of one city (public), by city and name, a page at a time: `next` (null on the last page) is the `after` of the next page',
        description:
          'Each restaurant says whether it takes new orders now (takingOrders, and pause while paused: its reason and until), as its menu does: a customer app greys out the paused ones without reading every menu.',
        querystring: Type.Object(
          {
            city: Type.Optional(City),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: RESTAURANTS_PAGE, description: `restaurants per page (default ${RESTAURANTS_PAGE})` })),
            after: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'the `next` of the page before, for the same city' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ restaurants: Type.Array(ListedRestaurantSchema), next: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const { city, after } = request.query;
      const limit = request.query.limit ?? RESTAURANTS_PAGE;
      const scope = city === undefined ? '' : cityName(city).toLowerCase();
      const position = after === undefined ? undefined : decodeRestaurantCursor(after, scope);
      if (position === null) throw new ValidationError('after is not the `next` of a page of this list (of the same city): start again without it', { field: 'querystring.after' });
      // One more than the page: whether there is a next one.
      const rows = await unitOfWork({ service: 'platform', readOnly: true, replicaOk: true, ownWritesOf: callerOf(request) }, (tx) =>
        listRestaurants(tx, { ...(city === undefined ? {} : { city }), limit: limit + 1, ...(position === undefined ? {} : { after: position }) }),
      );
      const restaurants = await withOrderTaking(request, rows.slice(0, limit));
      const last = restaurants.at(-1);
      return { restaurants, next: rows.length > limit && last !== undefined ? encodeRestaurantCursor({ city: last.city, name: last.name, id: last.id }, scope) : null };
    },
  );

  app.get(
    '/restaurants/:rid',
    {
      schema: {
        tags: ['platform'],
        summary: 'One restaurant (public, as the list): its name, city, currency and pick-up address, whether it takes new orders now, with its version as ETag',
        description:
          'The live board names its restaurant with it. The directory is public: no token is needed. ' +
          "With an admin's token or one of its staff's, the answer also says who changed the pick-up address last and when (pickupAddressChangedBy, pickupAddressChangedAt). " +
          'Its ETag is the If-Match of PATCH /v1/restaurants/{rid}: it counts changes of the directory entry, not pauses of new orders (takingOrders, pause), which its menu\'s ETag follows.',
        params: RidParams,
        response: { 200: Type.Object({ ...ListedRestaurantSchema.properties, pickupAddressChangedBy: Type.Optional(AddressChanges.pickupAddressChangedBy), pickupAddressChangedAt: Type.Optional(AddressChanges.pickupAddressChangedAt) }) },
      },
      config: { docs: { success: { 200: 'The restaurant' }, etag: true, errors: { 404: 'NOT_FOUND: no such restaurant (its id is in GET /v1/restaurants, or brigade tenants list)' } } },
    },
    async (request, reply) => {
      const { rid } = request.params;
      const found = await unitOfWork({ service: 'platform', readOnly: true, replicaOk: true, ownWritesOf: callerOf(request) }, (tx) => getRestaurant(tx, rid));
      if (found === null) throw new NotFoundError('restaurant', rid);
      const restaurant = (await withOrderTaking(request, [found]))[0]!;
      reply.header('etag', etagOf(restaurant.version));
      // Who changed the address names a staff member or an admin: for those who run the restaurant only.
      const caller = request.principal;
      if (caller?.role === 'admin' || (caller?.role === 'staff' && caller.restaurantId === rid)) return restaurant;
      const { pickupAddressChangedBy: _by, pickupAddressChangedAt: _at, ...directoryEntry } = restaurant;
      return directoryEntry;
    },
  );

  app.post(
    '/couriers',
    {
      schema: {
        tags: ['platform'],
        summary: 'Register a courier in a city (admin)',
        security: bearer,
        body: Type.Object({ name: Name, city: City }, { additionalProperties: false }),
        response: { 201: CourierSchema },
      },
      config: { docs: { success: { 201: 'The new courier' }, errors: NOT_ADMIN } },
    },
    async (request, reply) => reply.status(201).send(await unitOfWork(asAdmin(request), (tx) => createCourier(tx, request.body))),
  );

  app.get(
    '/couriers/me',
    {
      schema: { tags: ['platform'], summary: 'The calling courier', security: bearer, response: { 200: CourierSchema } },
      config: { docs: { errors: { 403: 'FORBIDDEN: not a courier token', 404: 'NOT_FOUND: the courier is not registered' } } },
    },
    async (request) => {
      const principal = authorize(request, 'courier');
      const courier = await unitOfWork(actorContext(principal, 'platform'), (tx) => getCourier(tx, principal.subject));
      if (courier === null) throw new NotFoundError('courier', principal.subject);
      return courier;
    },
  );

  app.post(
    '/customers',
    {
      schema: {
        tags: ['platform'],
        summary: 'Sign up as a customer (public); returns a customer token',
        body: Type.Object(
          { name: Name, email: Email, address: Address, password: Type.Optional(Password({ description: `to sign in with later (POST /v1/customers/sign-in); without one, set it with PUT /v1/customers/me/password and the token this answers, within ${FIRST_PASSWORD_SIGNUP_SECONDS / 60} minutes (after that, ask support for a reset token)` })) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            ...CustomerSchema.properties,
            token: Type.String({ description: `a customer token; without a password, set the first one with it (PUT /v1/customers/me/password) within ${FIRST_PASSWORD_SIGNUP_SECONDS / 60} minutes` }),
          }),
        },
      },
      config: { docs: { success: { 201: 'The new customer, with a customer token' }, errors: { 409: 'ALREADY_EXISTS: a customer with this e-mail' } } },
    },
    async (request, reply) => {
      const id = randomUUID();
      const { password, ...input } = request.body;
      // A taken address is refused before the hash (decision 0007): scrypt's tenth of a second on the
      // thread pool is not spent on a 409, on a route anyone may call. The insert's unique constraint
      // still decides a race.
      if (password !== undefined && (await unitOfWork({ service: 'platform', actor: SIGN_IN_ACTOR, readOnly: true }, (tx) => isCustomerEmailTaken(tx, input.email)))) {
        throw fieldAt(customerEmailTaken(), 'body');
      }
      // Hashed before the transaction opens: scrypt takes a tenth of a second or more.
      const passwordHash = password === undefined ? null : await hashPassword(password);
      // The new customer acts as themselves: the WITH CHECK policy allows exactly that row.
      const customer = await unitOfWork({ service: 'platform', actor: { kind: 'customer', id } }, (tx) => signUpCustomer(tx, { id, ...input, passwordHash })).catch(inputAt('body'));
      // A new customer's credentials are at version 0 (the column's default). The token is marked as
      // sign-up's (amr): for 10 minutes it sets the first password, which other tokens may not (decision 0007).
      return reply.status(201).send({ ...customer, token: await tokens.sign({ role: 'customer', subject: id, credentialsVersion: 0, amr: 'signup' }) });
    },
  );

  // Password sign-in (decision 0007, "Fixed later: customer sign-in with a password"). Every failure
  // answers one 401, and an address with too many failures one 429, whether or not a customer has it.
  const CURRENT_PASSWORD = 'CURRENT_PASSWORD_MISMATCH: a password is set and currentPassword is missing or not it';
  /** The 429 of a route that asks for the current password: the customer's own bucket, not the address's (decision 0007). */
  const TOO_MANY_CURRENT = `TOO_MANY_ATTEMPTS: ${SIGN_IN_LIMIT.failures} wrong current passwords sent with your tokens within ${SIGN_IN_LIMIT.windowSeconds / 60} minutes (failed sign-ins of your address do not count); Retry-After (and retryAfterSeconds) says when to try again`;
  const TOO_MANY = `TOO_MANY_ATTEMPTS: ${SIGN_IN_LIMIT.failures} failed sign-ins for this e-mail address within ${SIGN_IN_LIMIT.windowSeconds / 60} minutes; Retry-After (and retryAfterSeconds) says when to try again`;
  app.post(
    '/customers/sign-in',
    {
      schema: {
        tags: ['platform'],
        summary: 'Sign in as a customer with e-mail and password (public); returns a customer token',
        description:
          `The token lives as long as sign-up's (12 h). Any failure (an unknown address, a customer without a password, a wrong password) is the same 401; ` +
          `after ${SIGN_IN_LIMIT.failures} failures for one address within ${SIGN_IN_LIMIT.windowSeconds / 60} minutes every attempt for it is a 429 until the oldest leaves the window.`,
        body: Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: PASSWORD_LENGTH.max }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ token: Type.String(), customerId: Uuid }) },
      },
      config: {
        docs: {
          success: { 200: 'A customer token, and the id of the customer it is for' },
          errors: { 401: 'INVALID_CREDENTIALS: the e-mail address or the password is not right (one answer for every case); TOKEN_INVALID for a bad bearer token sent along (none is needed)', 429: TOO_MANY },
        },
      },
    },
    async (request) => signInCustomer({ unitOfWork, tokens, attemptsKey }, request.body),
  );

  app.put(
    '/customers/me/password',
    {
      schema: {
        tags: ['platform'],
        summary: 'Set or change your password (customer); a change needs the current one; answers a fresh token',
        description:
          `The first password needs no currentPassword, but one of two tokens: the token sign-up answered, within ${FIRST_PASSWORD_SIGNUP_SECONDS / 60} minutes of sign-up, or a reset token support minted you (POST /v1/tokens with reset: true). ` +
          'Any other token (a copy of yours, say) gets 403 FIRST_PASSWORD_NEEDS_RESET_TOKEN: ask support for a reset token. To change one that is set, send it as `currentPassword`: wrong ones are limited per customer (429 after too many), and failed sign-ins of your address do not hold this route. ' +
          'Every change (the first password too) revokes every customer token given before, this one included (401 `TOKEN_REVOKED` from now on): go on with the token of the answer.',
        security: bearer,
        body: Type.Object(
          {
            password: Password({ description: 'the new password' }),
            currentPassword: Type.Optional(CurrentPassword('change it')),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ token: Type.String({ description: "a fresh customer token (sign-up's lifetime): the tokens given before are revoked" }) }) },
      },
      config: {
        docs: {
          success: { 200: 'Set: sign in with it from now on. A fresh token, since every token given before is now refused (401 TOKEN_REVOKED)' },
          errors: {
            ...CUSTOMER_ERRORS,
            403: `${CUSTOMER_ERRORS[403]}; ${CURRENT_PASSWORD}; FIRST_PASSWORD_NEEDS_RESET_TOKEN: no password is set and the token is neither sign-up's (within ${FIRST_PASSWORD_SIGNUP_SECONDS / 60} minutes) nor a reset token: ask support for one`,
            404: 'NOT_FOUND: the customer is not signed up',
            429: TOO_MANY_CURRENT,
          },
        },
      },
    },
    async (request) => changeCustomerPassword({ unitOfWork, tokens, attemptsKey }, customerOf(request), request.body).catch(inputAt('body')),
  );

  app.delete(
    '/customers/:id/password',
    {
      schema: {
        tags: ['platform'],
        summary: "Remove a customer's password (admin): the reset without e-mail",
        description:
          'For a customer who forgot their password, or whose token or password was stolen, once you know it is them: remove it here, ' +
          'which revokes every customer token given before (401 `TOKEN_REVOKED`), mint them a reset token ' +
          '(`POST /v1/tokens` with role customer, their id as subject and `reset: true`, or `brigade token --role customer --subject ID --reset`), ' +
          'and they set a new one with it (PUT /v1/customers/me/password), which then needs no current password. A customer token minted without reset cannot set it.',
        security: bearer,
        params: Type.Object({ id: Uuid }),
        body: NoFields,
      },
      config: { docs: { success: { 204: "Removed: no password signs the customer in until they set a new one, and the customer's tokens given before are refused" }, errors: { ...NOT_ADMIN, 404: 'NOT_FOUND: no such customer' } } },
      preValidation: absentBodyIsEmpty,
    },
    async (request, reply) => {
      await unitOfWork(asAdmin(request), (tx) => clearCustomerPassword(tx, request.params.id));
      return reply.status(204).send();
    },
  );

  app.get(
    '/customers/me',
    {
      schema: { tags: ['platform'], summary: 'The calling customer', security: bearer, response: { 200: CustomerSchema } },
      config: { docs: { errors: { 403: 'FORBIDDEN: not a customer token', 404: 'NOT_FOUND: the customer is not signed up' } } },
    },
    async (request) => {
      const principal = authorize(request, 'customer');
      const customer = await unitOfWork(actorContext(principal, 'platform'), (tx) => getCustomer(tx, principal.subject));
      if (customer === null) throw new NotFoundError('customer', principal.subject);
      return customer;
    },
  );

  // Erasure (decision 0090): the customer row and card go, and the customer's data key is destroyed,
  // so their sealed personal data (delivery addresses in orders, in the log, the outbox, the broker and
  // the views) reads as null from then on. Orders stay, with the address null: the restaurant's books
  // keep them. Refused while an order of theirs is on its way (its courier needs the address), unless
  // an admin forces it.
  const ERASED = { 204: 'Erased: the customer row, the card on file and the data key are gone; their orders read with deliveryAddress null' };
  const OPEN_ORDERS = 'CUSTOMER_HAS_OPEN_ORDERS: orders of the customer are not delivered, rejected or cancelled yet (details.orderIds); erase once they are, or cancel them first';
  /** Erasures of this process, one at a time (see `erase`). */
  let erasing: Promise<void> = Promise.resolve();
  /**
   * Erases `customerId` in a transaction of `context` unless orders of theirs are open: then 409, after
   * the erasure's own 404 (nothing to erase: an erased customer's open orders do not hide that), and
   * its work rolls back. `force` skips the look-up.
   *
   * The look-up runs after the erasure's own statements, in its transaction, under the customer's
   * erasure lock (`lockCustomerErasure`, taken first). A placement that commits before the look-up is
   * seen by it; one that commits after it asks, once committed, whether its customer is erased, and
   * that question waits for this transaction to end (ordering's `placeOrder`): no order is left open
   * for an erased customer, without a transaction across the two services' databases.
   *
   * The transaction holds a connection while the look-up takes one (of the same pool when the services
   * share a database): one erasure at a time per process, so that erasures cannot take every connection
   * of a pool and wait for one more (the pool keeps `POOL_SIZE_RESERVE` for requests).
   */
  const erase = (context: UnitOfWorkContext, customerId: string, force = false): Promise<void> => {
    const run = async () =>
      unitOfWork(context, async (tx) => {
        await lockCustomerErasure(tx, customerId, 'exclusive');
        await eraseCustomer(tx, customerId, attemptsKey);
        const open = force ? [] : await ports.orders.openOrdersOf(customerId);
        if (open.length > 0) throw new CustomerHasOpenOrdersError(customerId, open);
      });
    const done = erasing.then(run);
    erasing = done.catch(() => undefined);
    return done;
  };
  app.delete(
    '/customers/me',
    {
      schema: {
        tags: ['platform'],
        summary: 'Erase yourself (customer): your record, card on file and the delivery addresses of your orders, once none is on its way',
        description:
          'Once you have a password, send it as `currentPassword`: a token alone (a stolen one) does not erase an account for good. Wrong ones are limited per customer (429 after too many). ' +
          'Without a password, no body (or `{}`) is needed.',
        security: bearer,
        body: Type.Object({ currentPassword: Type.Optional(CurrentPassword('erase your account')) }, { additionalProperties: false }),
      },
      config: {
        docs: {
          success: ERASED,
          errors: {
            ...CUSTOMER_ERRORS,
            403: `${CUSTOMER_ERRORS[403]}; ${CURRENT_PASSWORD}`,
            404: 'NOT_FOUND: nothing to erase (never signed up nor ordered, or erased already)',
            409: OPEN_ORDERS,
            429: TOO_MANY_CURRENT,
          },
        },
      },
      preValidation: absentBodyIsEmpty,
    },
    async (request, reply) => {
      const principal = customerOf(request);
      await confirmCurrentPassword({ unitOfWork, attemptsKey }, principal.subject, request.body.currentPassword, 'erase your account').catch(inputAt('body'));
      await erase(actorContext(principal, 'platform'), principal.subject);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/customers/:id',
    {
      schema: {
        tags: ['platform'],
        summary: 'Erase a customer (admin): their record, card on file and the delivery addresses of their orders, once none is on its way (?force=true: even then)',
        security: bearer,
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({ force: Type.Optional(Type.Boolean({ description: 'erase even with orders on their way: their couriers then see no address' })) }, { additionalProperties: false }),
        body: NoFields,
      },
      config: { docs: { success: ERASED, errors: { ...NOT_ADMIN, 404: 'NOT_FOUND: nothing to erase (no such customer, or erased already)', 409: `${OPEN_ORDERS}, or force` } } },
      preValidation: absentBodyIsEmpty,
    },
    async (request, reply) => {
      await erase(asAdmin(request), request.params.id, request.query.force === true);
      return reply.status(204).send();
    },
  );

  app.put(
    '/customers/me/payment-method',
    {
      schema: {
        tags: ['platform'],
        summary: 'Put your card on file (customer): the payments saga charges it for your orders. Answers the last four digits only',
        description:
          'Once you have a password, send it as `currentPassword`: a token alone (a stolen one) does not replace the card your orders are charged to. Wrong ones are limited per customer (429 after too many).',
        security: bearer,
        body: Type.Object({ cardNumber: Type.String({ minLength: 12, maxLength: 40 }), currentPassword: Type.Optional(CurrentPassword('put a card on file')) }, { additionalProperties: false }),
        response: { 200: PaymentMethodSchema },
      },
      config: { docs: { errors: { ...CUSTOMER_ERRORS, 403: `${CUSTOMER_ERRORS[403]}; ${CURRENT_PASSWORD}`, 404: 'NOT_FOUND: the customer is not signed up', 429: TOO_MANY_CURRENT } } },
    },
    async (request) => {
      const principal = customerOf(request);
      await confirmCurrentPassword({ unitOfWork, attemptsKey }, principal.subject, request.body.currentPassword, 'put a card on file').catch(inputAt('body'));
      return unitOfWork(actorContext(principal, 'platform'), (tx) => setPaymentMethod(tx, { customerId: principal.subject, cardNumber: request.body.cardNumber })).catch(inputAt('body'));
    },
  );

  app.get(
    '/customers/me/payment-method',
    {
      schema: { tags: ['platform'], summary: 'Your card on file, last four digits (customer); 404 when none is set', security: bearer, response: { 200: PaymentMethodSchema } },
      config: { docs: { errors: NO_CARD } },
    },
    async (request) => {
      const principal = customerOf(request);
      const method = await unitOfWork({ ...actorContext(principal, 'platform'), readOnly: true }, (tx) => getPaymentMethod(tx, principal.subject));
      if (method === null) throw new NotFoundError('payment method of customer', principal.subject);
      return method;
    },
  );

  app.delete(
    '/customers/me/payment-method',
    // No fields: no body, or {} (before, any JSON body was taken and ignored).
    {
      schema: { tags: ['platform'], summary: 'Remove your card on file (customer); 404 when none is set', security: bearer, body: NoFields },
      config: { docs: { success: { 204: 'Removed' }, errors: NO_CARD } },
      preValidation: absentBodyIsEmpty,
    },
    async (request, reply) => {
      const principal = customerOf(request);
      const removed = await unitOfWork(actorContext(principal, 'platform'), (tx) => removePaymentMethod(tx, principal.subject));
      if (!removed) throw new NotFoundError('payment method of customer', principal.subject);
      return reply.status(204).send();
    },
  );

  app.post(
    '/tokens',
    {
      schema: {
        tags: ['platform'],
        summary: 'Mint a token (admin)',
        security: bearer,
        body: Type.Object(
          {
            role: Type.Union(ROLES.map((r) => Type.Literal(r))),
            restaurantId: Type.Optional(Uuid),
            subject: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            ttlSeconds: Type.Optional(Type.Integer({ minimum: TOKEN_TTL_SECONDS.min, maximum: TOKEN_TTL_SECONDS.max })),
            reset: Type.Optional(
              Type.Boolean({
                description:
                  "a reset token (role customer, subject their id): it sets the customer's first password with no currentPassword, after DELETE /v1/customers/{id}/password; a customer token minted without it cannot",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String() }) },
      },
      config: {
        docs: {
          success: { 201: "The token: its act claim names the calling admin, then the minters of the caller's token (RFC 8693, nested); revoking any of them refuses it" },
          errors: {
            403: `FORBIDDEN: not an admin token; MINT_CHAIN_TOO_LONG: the caller's token was itself minted through ${MINT_CHAIN_MAX} admins`,
            404: 'NOT_FOUND: restaurantId names a restaurant the directory does not know',
          },
        },
      },
    },
    async (request, reply) => {
      const admin = authorize(request, 'admin');
      const { ttlSeconds, ...principal } = request.body;
      // The checks of brigade token and the development login too (one operation). The token names its
      // minters, and the mint's audit entry what was minted: whatever is done under the subject an admin
      // chose traces back to them, and revoking any of them refuses it.
      const token = await mintToken({ unitOfWork, tokens }, { ...principal, minter: admin }, ttlSeconds).catch(inputAt('body'));
      const minted = await tokens.verify(token);
      const expiresAt = new Date(minted.expiresAt!).toISOString();
      // Its chain of minters too: the audit then finds every token minted through an admin who is revoked.
      request.auditDetails = { minted: { role: minted.role, subject: minted.subject, restaurantId: minted.restaurantId, expiresAt, mintChain: minted.mintChain, ...(minted.amr === undefined ? {} : { amr: minted.amr }) } };
      return reply.status(201).send({ token });
    },
  );

  // Revocation of a role's and subject's tokens (decision 0007, "staff, courier and admin tokens can
  // be revoked"): a staff member let go, a courier removed, a leaked admin token, a customer's lost phone.
  app.post(
    '/admin/token-revocations',
    {
      schema: {
        tags: ['admin'],
        summary: "Revoke every token of a role and subject issued up to now (admin): they get 401 TOKEN_REVOKED from now on",
        description:
          'Tokens are stateless and live up to 30 days; this ends them early, for one subject, without rotating BRIGADE_SECRET (which ends every token). ' +
          'The time is cut to the whole second, as a token\'s `iat` is, and a token issued within that second is refused too; the answer comes once it is over, ' +
          'so a token minted from then on (`POST /v1/tokens`, `brigade token`, a customer\'s sign-in) is valid. Revoking a subject again moves its time forward. ' +
          'Revoking an admin also refuses every token minted through them (`POST /v1/tokens` with their token, and tokens minted with those), whatever its role, issued up to the same second: mint again the ones still needed. ' +
          "Revoking a courier also takes them off dispatch, as `POST /v1/couriers/{courierId}/availability` with `available: false` does (takenOffDispatch says how). " +
          'Admin names are compared in lower case, as tokens carry them. When the subject names nobody known, the revocation still stands and `unmatched` says so. ' +
          "Revoking a customer leaves their password: if someone else may know it, also remove it with `DELETE /v1/customers/{id}/password` (passwordStays says so). " +
          'The same as `brigade token revoke`.',
        security: bearer,
        body: NewTokenRevocation,
        response: { 200: RevokedTokensSchema },
      },
      config: {
        docs: {
          success: {
            200: "The revocation: tokens issued up to revokedBefore are refused, tokens issued from validFrom on are valid. An admin's revocation refuses the tokens it minted too (alsoRefused); a courier's takes them off dispatch (takenOffDispatch); a customer's leaves their password (passwordStays)",
          },
          errors: { ...NOT_ADMIN, 503: "COURIER_STILL_ON_DISPATCH: a courier's tokens were revoked, but delivery could not take them off dispatch; revoke again" },
        },
      },
    },
    async (request) => {
      const admin = authorize(request, 'admin');
      const revocation = await revokeTokens({ unitOfWork, findInEveryDatabase: (context, fn, lookup) => deps.placements.findInEveryDatabase(context, fn, lookup), dispatch: ports.dispatch }, admin.subject, request.body).catch((error: unknown) => {
        // The revocation stands: its audit entry says so, and that the courier is still on dispatch.
        if (error instanceof CourierStillOnDispatchError) request.auditDetails = { revoked: error.revocation, takenOffDispatch: null };
        throw fieldAt(error, 'body');
      });
      const { role, subject, reason, revokedBefore, takenOffDispatch } = revocation;
      request.auditDetails = { revoked: { role, subject, reason, revokedBefore }, ...(takenOffDispatch === undefined ? {} : { takenOffDispatch }) };
      return revocation;
    },
  );

  app.get(
    '/admin/token-revocations',
    {
      schema: {
        tags: ['admin'],
        summary: 'The token revocations, newest first, with who revoked and why (admin)',
        security: bearer,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'at most this many (default 100)' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ revocations: Type.Array(TokenRevocationSchema) }) },
      },
      config: { docs: { errors: NOT_ADMIN } },
    },
    async (request) => ({ revocations: await unitOfWork({ ...asAdmin(request), readOnly: true }, (tx) => listTokenRevocations(tx, request.query.limit ?? 100)) }),
  );

  /**
   * The caller as staff of `rid`: its own staff, or an admin. Another restaurant's id is a 404, never a
   * 403, and so is, for an admin, one the directory does not know.
   */
  const staffPrincipal = async (request: Parameters<typeof authorize>[0], rid: string) => {
    const principal = authorize(request, 'staff', 'admin');
    if (principal.role === 'staff' && principal.restaurantId !== rid) throw new NotFoundError('restaurant', rid);
    if (principal.role === 'admin') await knownRestaurant(rid);
    return principal;
  };
  /** {@link staffPrincipal} as the context of a transaction in `rid`. */
  const staffContext = async (request: Parameters<typeof authorize>[0], rid: string) => actorContext(await staffPrincipal(request, rid), 'platform', rid);

  app.post(
    '/restaurants/:rid/staff',
    {
      schema: {
        tags: ['platform'],
        summary: 'Add a staff member to the restaurant (its staff, or admin; a manager only by one of its managers, or admin)',
        description:
          'The inviter recorded (`invitedBy`) is the caller: the subject of a staff token when it is a staff member of this restaurant ' +
          '(mint it with `brigade token --role staff --restaurant ID --subject STAFF_ID`), else null. `invitedBy` in the body may be ' +
          'left out; when sent it must be that same id (400 otherwise).',
        security: bearer,
        params: RidParams,
        body: Type.Object(
          {
            name: Name,
            email: Email,
            role: Type.Optional(Type.Union([Type.Literal('manager'), Type.Literal('staff')])),
            invitedBy: Type.Optional(Type.String({ format: 'uuid', description: 'your own staff id, if sent: the inviter is taken from your token' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: StaffSchema },
      },
      config: {
        docs: {
          success: { 201: 'The new staff member' },
          errors: { ...STAFF_ERRORS, 403: 'FORBIDDEN: not a staff or admin token, or a manager added by someone who is not one of its managers', 409: 'ALREADY_EXISTS: a staff member with this e-mail' },
        },
      },
    },
    async (request, reply) => {
      const { rid } = request.params;
      const principal = await staffPrincipal(request, rid);
      return reply.status(201).send(await unitOfWork(actorContext(principal, 'platform', rid), (tx) => addStaff(tx, { restaurantId: rid, ...request.body }, principal)).catch(inputAt('body')));
    },
  );

  app.get(
    '/restaurants/:rid/staff',
    {
      schema: { tags: ['platform'], summary: "The restaurant's staff (its staff, or admin)", security: bearer, params: RidParams, response: { 200: Type.Object({ staff: Type.Array(StaffSchema) }) } },
      config: { docs: { errors: STAFF_ERRORS } },
    },
    async (request) => ({ staff: await unitOfWork(await staffContext(request, request.params.rid), (tx) => listStaff(tx, request.params.rid)) }),
  );

  app.get(
    '/restaurants/:rid/staff/:sid',
    {
      schema: { tags: ['platform'], summary: 'One staff member', security: bearer, params: Type.Object({ rid: Uuid, sid: Uuid }), response: { 200: StaffSchema } },
      config: { docs: { errors: { ...STAFF_ERRORS, 404: "NOT_FOUND: no such restaurant (or another restaurant's, for its staff), or no such staff member" } } },
    },
    async (request) => {
      const member = await unitOfWork(await staffContext(request, request.params.rid), (tx) => getStaffMember(tx, request.params.rid, request.params.sid));
      if (member === null) throw new NotFoundError('staff member', request.params.sid);
      return member;
    },
  );
};
