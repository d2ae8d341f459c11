import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { actorContext, authorize, callerOf, inputAt } from '../../api/index.ts';
import { actorName, DatabaseUnavailableError, isLockNotAvailable, type UnitOfWorkContext } from '../../platform/db/index.ts';
import { NotFoundError, ValidationError } from '../../platform/errors/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { DEDICATED_READ_TIMEOUT_MS } from '../../platform/tenancy/index.ts';
import { MAX_ORDER_TOTAL } from '../../platform/money/index.ts';
import { writeToOutbox } from '../../platform/outbox/index.ts';
import { absentBodyIsEmpty, etagOf, ifMatchVersion, ifNoneMatchHits, DescriptionText, NameText, NoFields } from '../../api/index.ts';
import { bumpMenuVersion } from './operations/bumpMenuVersion.ts';
import { changeEntity, type Change } from './operations/changeEntity.ts';
import { createCategory } from './operations/createCategory.ts';
import { createItem } from './operations/createItem.ts';
import type { MenuEntity, Versioned } from './operations/entities.ts';
import { itemHistory } from './operations/itemHistory.ts';
import { loadMenu, type MenuDocument } from './operations/loadMenu.ts';
import { MAX_PAUSE_DAYS, MAX_PAUSE_MINUTES } from './operations/orderPauseSql.ts';
import { pauseOrders } from './operations/pauseOrders.ts';
import { resumeOrders } from './operations/resumeOrders.ts';
import { readEntity } from './operations/readEntity.ts';
import { createModifierGroup, updateModifierGroup } from './operations/saveModifierGroup.ts';
import { decodeSearchCursor, encodeSearchCursor, searchScope } from './operations/searchCursor.ts';
import { bySearchOrder, searchMenu, type SearchPosition } from './operations/searchMenu.ts';
import { waitForMenuTurn } from './operations/waitForMenuTurn.ts';
import type { MenuPorts } from './ports.ts';

const Uuid = Type.String({ format: 'uuid' });
/** A category's, item's, group's or modifier's name: the directory's name rule (decision 0083), one definition. */
const Name = NameText(200);
/** An item's description: lines of text under the same rule but for tabs and line breaks (decision 0083). */
const Description = DescriptionText(2000);
/** An item's price: no more than one order may cost (an item dearer than that could never be ordered). */
const Price = Type.Integer({ minimum: 0, maximum: MAX_ORDER_TOTAL, description: 'minor units of the restaurant currency' });
const Modifier = Type.Object({ name: Name, priceDelta: Type.Integer({ minimum: -100_000_000, maximum: 100_000_000 }) }, { additionalProperties: false });
const Choices = Type.Integer({ minimum: 0, maximum: 50 });
/** A category's place in the menu: what the column (a PostgreSQL integer) holds. */
const Position = Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 });
const bearer = [{ bearer: [] }];
/** An instant of history as `/history` gives it: RFC 3339 in UTC, all six fraction digits, as stored. */
const Instant = (what: string) => Type.String({ format: 'date-time', description: `${what}: RFC 3339 in UTC, to the microsecond (e.g. 2024-05-01T12:00:00.123456Z)` });
const ItemHistory = Type.Object({
  itemId: Uuid,
  versions: Type.Array(
    Type.Object({
      version: Type.Integer(),
      name: Type.String(),
      price: Type.Integer({ description: 'minor units of the restaurant currency' }),
      soldOut: Type.Boolean(),
      deleted: Type.Boolean(),
      validFrom: Instant('when this version began; ?asOf= this instant reads this version'),
      validTo: Type.Union([Instant('when the next version began'), Type.Null()], { description: 'null for the current version' }),
    }),
  ),
});
/** What a staff write of `rid`'s menu may be refused with, besides its input's 400. */
const STAFF_ERRORS = {
  403: 'FORBIDDEN: not a staff or admin token',
  404: "NOT_FOUND: no such restaurant (or another restaurant's, for its staff)",
};
/** What a write of one menu row (change, delete, restore) may be refused with, besides {@link STAFF_ERRORS}. */
const ROW_ERRORS = {
  ...STAFF_ERRORS,
  404: "NOT_FOUND: no such restaurant (or another restaurant's, for its staff), or no such row",
  422: 'MENU_ENTITY_DELETED (change or delete a deleted row: a category or an item takes the change in its restore\'s body instead), MENU_ENTITY_NOT_DELETED (restore a live one), MENU_PARENT_DELETED, MENU_PARENT_NOT_FOUND, INVALID_MENU_VALUE, MENU_PRICE_BELOW_ZERO, MENU_PRICE_ABOVE_ORDER_LIMIT',
};

/** A pause of new orders as the API shows it (decision 0094). */
const OrderPauseSchema = Type.Object({
  reason: Type.Union([Type.String(), Type.Null()], { description: 'what staff told customers, or null' }),
  until: Type.Union([Instant('when the restaurant takes orders again by itself'), Type.Null()], { description: 'null: until its staff resume' }),
  since: Instant('when the pause was made'),
});
/** Whether a restaurant takes new orders (the answer of a pause or a resume). */
const OrderTaking = Type.Object({
  restaurantId: Uuid,
  takingOrders: Type.Boolean(),
  pause: Type.Union([OrderPauseSchema, Type.Null()], { description: 'the pause in force, or null while the restaurant takes orders' }),
});
/** A pause: at most one of `until` and `forMinutes` (both is a 400, said by `pauseOrders`); neither, until resumed. */
const PauseBody = Type.Object(
  {
    reason: Type.Optional(NameText(200)),
    until: Type.Optional(
      Type.String({
        format: 'date-time',
        description: `RFC 3339: when the restaurant takes orders again by itself, later than now and at most ${MAX_PAUSE_DAYS} days ahead (the database's clock). Not with \`forMinutes\`; leave both out to pause until resumed`,
      }),
    ),
    forMinutes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_PAUSE_MINUTES,
        description: `How long the pause lasts, in minutes (at most ${MAX_PAUSE_DAYS} days): it ends that long after the server's now, on the database's clock, so a device whose clock is off pauses for as long as it asked. Not with \`until\`; the answer's \`until\` is the end`,
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The live menu's ETag: its version, and whether the document said the restaurant was paused, with
 * the pause's end (epoch ms) when it has one. A pause that ends by itself changes the document (it then
 * says `takingOrders: true`) without a write, so without the suffix one ETag would name both documents
 * and a client holding the paused one would get 304 after it reopened (decision 0094).
 */
const menuEtag = (doc: MenuDocument) => (doc.pause === null ? `"menu-${doc.version}"` : `"menu-${doc.version}-paused${doc.pause.untilMs === null ? '' : `-${doc.pause.untilMs}`}"`);

/** Hits a page of search results holds at most (and by default). */
const SEARCH_HITS = 50;
/**
 * What `?before=` may be: a cursor holds a name of up to 200 code points (JSON-escaped, then
 * base64url), which stays under this.
 */
const SEARCH_CURSOR_MAX = 2048;
const SearchQuery = Type.Object(
  {
    q: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'the words to find (web search syntax: `"a phrase"`, `-word`, `or`); accents and case are ignored on both sides, so `creme` finds "Crème" and `café` finds "Cafe"',
    }),
    city: Type.String({ minLength: 1, maxLength: 100 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SEARCH_HITS, description: `hits per page (default ${SEARCH_HITS}); a \`next\` in the answer when there are more` })),
    before: Type.Optional(
      Type.String({ minLength: 1, maxLength: SEARCH_CURSOR_MAX, description: "the hits after a page: the `next` of the page before's answer, sent with the same q and city" }),
    ),
  },
  { additionalProperties: false },
);

/** A page of search hits (`GET /v1/menu/search`). */
const SearchPage = Type.Object({
  hits: Type.Array(
    Type.Object({
      restaurantId: Uuid,
      itemId: Uuid,
      name: Type.String(),
      description: Type.String(),
      price: Type.Integer({ description: 'minor units of `currency` (JPY has none below the yen, EUR cents): compare prices of hits in one currency only' }),
      currency: Type.String({ description: "the restaurant's currency, ISO 4217 (e.g. EUR, JPY): a city's restaurants may have different ones" }),
      soldOut: Type.Boolean(),
      rank: Type.Number({ description: 'how well the item matches, higher first; compare ranks of one search only' }),
    }),
  ),
  next: Type.Union([Type.String(), Type.Null()], { description: 'the `before` of the next page; null on the last page' }),
  unavailable: Type.Integer({
    minimum: 0,
    description:
      `how many of the city's restaurants could not be searched this time: a restaurant with a database of its own that failed or did not answer in time (${DEDICATED_READ_TIMEOUT_MS / 1000} s). Their hits are missing from this page, and the pages after it (which start after its last hit) do not bring back the ones it missed: search again from the first page later for a complete answer. 0: every restaurant was searched`,
  }),
});

/** The position of `?before=` for the search of `scope`, or undefined without one; 400 when it is not a cursor an answer of that search gave. */
function searchCursorOf(before: string | undefined, scope: string): SearchPosition | undefined {
  if (before === undefined) return undefined;
  const position = decodeSearchCursor(before, scope);
  if (position === null) throw new ValidationError('`before` is not a page cursor of this search: send the `next` of an earlier answer, unchanged, with the same q and city', { field: 'querystring.before' });
  return position;
}

/** A category's PATCH fields, all optional: its patch body, and its restore's. */
const CategoryFields = { name: Type.Optional(Name), position: Type.Optional(Position) };
/** An item's PATCH fields, all optional: its patch body, and its restore's. */
const ItemFields = {
  categoryId: Type.Optional(Uuid),
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  price: Type.Optional(Price),
  soldOut: Type.Optional(Type.Boolean()),
};

/**
 * Create, patch and restore bodies per entity; patch bodies are the create fields, all optional. A
 * category's or an item's restore takes its PATCH fields too (none needed), set in the restore's own
 * write, so that a deleted item comes back at a new price, or sold out, without ever being orderable
 * as it was deleted; a modifier group's restore takes none (its PATCH replaces its modifiers, in an
 * operation of its own).
 */
const BODIES: Record<MenuEntity, { path: string; create: TSchema; patch: TSchema; restore: TSchema }> = {
  category: {
    path: 'categories',
    create: Type.Object({ name: Name, position: Type.Optional(Position) }, { additionalProperties: false }),
    patch: Type.Object(CategoryFields, { additionalProperties: false, minProperties: 1 }),
    restore: Type.Object(CategoryFields, { additionalProperties: false, description: 'Any of the PATCH fields, set as the category comes back; none needed' }),
  },
  item: {
    path: 'items',
    create: Type.Object(
      { categoryId: Uuid, name: Name, description: Type.Optional(Description), price: Price, soldOut: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
    patch: Type.Object(ItemFields, { additionalProperties: false, minProperties: 1 }),
    restore: Type.Object(ItemFields, {
      additionalProperties: false,
      description: 'Any of the PATCH fields (a new price, soldOut, …), set in the restore\'s own write: the item comes back with them, never live as it was deleted; none needed',
    }),
  },
  modifier_group: {
    path: 'modifier-groups',
    create: Type.Object(
      { itemId: Uuid, name: Name, minChoices: Choices, maxChoices: Type.Integer({ minimum: 1, maximum: 50 }), modifiers: Type.Array(Modifier, { maxItems: 50 }) },
      { additionalProperties: false },
    ),
    patch: Type.Object(
      {
        name: Type.Optional(Name),
        minChoices: Type.Optional(Choices),
        maxChoices: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
        modifiers: Type.Optional(Type.Array(Modifier, { maxItems: 50 })),
      },
      { additionalProperties: false, minProperties: 1 },
    ),
    restore: NoFields,
  },
};

/**
 * The menu's own cache policy, which replaces the API's `no-store`: public data that a browser or proxy
 * may keep, asking each time with `If-None-Match` (304 while it is current).
 */
const MENU_CACHE_CONTROL = 'no-cache';

/**
 * How long a menu write whose COMMIT lost its connection waits, before it answers 503, for that
 * transaction to end in PostgreSQL, so that its second eviction comes after the commit (if any) is
 * visible. Ordinarily a few milliseconds (the rest of the COMMIT); the bound is for a backend that
 * never got the COMMIT and waits for its client behind a dead network.
 */
const LOST_COMMIT_WAIT_MS = 10_000;

/**
 * The menu service's routes. Staff of the restaurant (or an admin) edit under optimistic
 * concurrency (ETag / If-Match; 428 without it, 412 when stale); anyone reads the menu (cached),
 * its history and the search.
 */
export function menuRoutes(ports: MenuPorts): FastifyPluginAsync<{ deps: ServiceDeps }> {
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const { unitOfWork } = deps;
    const menus = deps.createCache('menu');
    /**
     * An anonymous read of restaurant `rid`'s menu, routed by the restaurant so that a moved one is read
     * in its own database (docs/decisions/0008). The tenant widens nothing: menu's policies let actor
     * kind 'public' read every menu row already, and their tenant clauses are for actor kind 'staff'.
     * `null`: the shared database, for several of its restaurants at once (no fence: a restaurant
     * moving at that moment may be missing from the answer).
     */
    const publicReader = (rid: string | null): UnitOfWorkContext => ({ service: 'menu', tenantId: rid, actor: { kind: 'public', id: 'anonymous' }, readOnly: true });

    /**
     * Staff of `rid` or an admin; another restaurant's id is a 404, and so is one the directory does not
     * know (an admin's write used to make menu rows for it, which no menu read ever showed).
     */
    const editor = async (request: FastifyRequest, rid: string): Promise<UnitOfWorkContext> => {
      const principal = authorize(request, 'staff', 'admin');
      if (principal.role === 'staff' && principal.restaurantId !== rid) throw new NotFoundError('restaurant', rid);
      if (principal.role === 'admin') await restaurant(rid);
      return actorContext(principal, 'menu', rid);
    };
    /**
     * A write: one transaction that also records `menu.menu.MenuChanged` in the outbox; the cached
     * menu is evicted on every instance once it commits, and also when the connection was lost while
     * it committed (`DATABASE_UNAVAILABLE` in phase `commit`): the change may have been saved, and an
     * eviction is always safe, where skipping it served the old menu until the TTL.
     *
     * After a lost COMMIT it evicts twice: at once, and again once the transaction has ended in
     * PostgreSQL, which may still be committing it when the client hears of the loss; a read between
     * the two loads the old menu and would keep it until the TTL. The end is seen by waiting for the
     * menu's lock ({@link waitForMenuTurn}; every menu write holds it until it ends), at most
     * {@link LOST_COMMIT_WAIT_MS}, before the 503 is answered, so that "read it back" in its message
     * reads the outcome.
     */
    const write = async <T>(context: UnitOfWorkContext, rid: string, fn: Parameters<typeof unitOfWork<T>>[1]) => {
      try {
        return await unitOfWork(context, async (tx) => {
          if (menus !== null) tx.afterCommit(() => menus.evict(rid));
          const result = await fn(tx);
          await writeToOutbox(tx, [{ subject: 'menu.menu.MenuChanged', key: rid, payload: { restaurantId: rid } }]);
          return result;
        });
      } catch (error) {
        if (menus !== null && error instanceof DatabaseUnavailableError && error.phase === 'commit') {
          await menus.evict(rid).catch(() => undefined);
          await unitOfWork(context, (tx) => waitForMenuTurn(tx, rid, LOST_COMMIT_WAIT_MS)).catch((waitError: unknown) => {
            app.log.warn(
              { restaurantId: rid, err: waitError },
              `menu ${rid}: a write's COMMIT lost its connection, and whether that transaction had ended could not be seen (${isLockNotAvailable(waitError) ? `the menu's lock was still held after ${LOST_COMMIT_WAIT_MS} ms` : 'the database could not be asked'}); if it commits later, instances may serve the old menu until CACHE_TTL_SECONDS: POST /v1/restaurants/${rid}/menu/refresh then`,
            );
          });
          await menus.evict(rid).catch(() => undefined);
        }
        throw error;
      }
    };
    const restaurant = async (rid: string) => {
      const found = await ports.directory.restaurant(rid);
      if (found === null) throw new NotFoundError('restaurant', rid);
      return found;
    };

    for (const entity of Object.keys(BODIES) as MenuEntity[]) {
      const { path, create, patch, restore } = BODIES[entity];
      const tag = { tags: ['menu'], security: bearer };
      const Params = Type.Object({ rid: Uuid, id: Uuid });
      app.post(
        `/restaurants/:rid/menu/${path}`,
        {
          schema: { ...tag, summary: `Add a ${entity.replace('_', ' ')} (staff)`, params: Type.Object({ rid: Uuid }), body: create },
          config: {
            docs: {
              success: { 201: `The new ${entity.replace('_', ' ')}, at version 1` },
              etag: true,
              // A category has no parent; an item's category and a group's item must be live rows of this menu.
              errors:
                entity === 'category'
                  ? STAFF_ERRORS
                  : { ...STAFF_ERRORS, 422: `MENU_PARENT_NOT_FOUND or MENU_PARENT_DELETED: the ${entity === 'item' ? 'category' : 'item'} is not a live one of this menu${entity === 'item' ? '' : '; INVALID_MENU_VALUE, MENU_PRICE_BELOW_ZERO, MENU_PRICE_ABOVE_ORDER_LIMIT'}` },
            },
          },
        },
        async (request, reply) => {
          const rid = (request.params as { rid: string }).rid;
          const body = request.body as never;
          const row = await write(await editor(request, rid), rid, (tx) =>
            entity === 'category' ? createCategory(tx, rid, body) : entity === 'item' ? createItem(tx, rid, body) : createModifierGroup(tx, rid, body),
          ).catch(inputAt('body')); // categoryId, itemId, minChoices, price: named bare by the operations
          return reply.status(201).header('etag', etagOf(row.version)).send(row);
        },
      );
      app.get(
        `/restaurants/:rid/menu/${path}/:id`,
        {
          schema: { tags: ['menu'], summary: `One ${entity.replace('_', ' ')}, deleted or not, with its ETag`, params: Params },
          config: { docs: { success: { 200: `The ${entity.replace('_', ' ')}` }, etag: true, errors: { 404: 'NOT_FOUND: no such row on this menu' } } },
        },
        async (request, reply) => {
        const { rid, id } = request.params as { rid: string; id: string };
        const row = await unitOfWork(publicReader(rid), (tx) => readEntity(tx, entity, rid, id));
        if (row === null) throw new NotFoundError(entity.replace('_', ' '), id);
        return reply.header('etag', etagOf(row.version)).send(row);
        },
      );
      const change = (body: TSchema | undefined, toChange: (body: Record<string, unknown>) => Change) =>
        async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
          const { rid, id } = request.params as { rid: string; id: string };
          const context = await editor(request, rid);
          const expected = ifMatchVersion(request.headers['if-match']);
          const fields = (request.body ?? {}) as Record<string, unknown>;
          const row: Versioned = await write(context, rid, (tx) =>
            entity === 'modifier_group' && body !== undefined ? updateModifierGroup(tx, rid, id, expected, fields) : changeEntity(tx, entity, rid, id, expected, toChange(fields)),
          ).catch(inputAt('body'));
          return reply.header('etag', etagOf(row.version)).send(row);
        };
      /** What a write of one row answers: the row at its new version, with its ETag. */
      const rowWrite = (done: string) => ({ docs: { success: { 200: `The ${entity.replace('_', ' ')} ${done}, at its new version` }, etag: true, ifMatch: true, errors: ROW_ERRORS } });
      app.patch(
        `/restaurants/:rid/menu/${path}/:id`,
        { schema: { ...tag, summary: `Change a ${entity.replace('_', ' ')} (If-Match)`, params: Params, body: patch }, config: rowWrite('changed') },
        change(patch, (set) => ({ kind: 'update', set })),
      );
      const noFields = { preValidation: absentBodyIsEmpty };
      app.delete(
        `/restaurants/:rid/menu/${path}/:id`,
        { schema: { ...tag, summary: `Soft-delete a ${entity.replace('_', ' ')} (If-Match)`, params: Params, body: NoFields }, config: rowWrite('deleted'), ...noFields },
        change(undefined, () => ({ kind: 'delete' })),
      );
      // A category's or an item's restore sets the PATCH fields sent in the same guarded write (one new
      // version); the checks of a change of them (a live category, the cheapest order) run after it.
      app.post(
        `/restaurants/:rid/menu/${path}/:id/restore`,
        {
          schema: {
            ...tag,
            summary:
              entity === 'modifier_group'
                ? 'Restore a soft-deleted modifier group (If-Match)'
                : `Restore a soft-deleted ${entity} (If-Match), with any of its PATCH fields set in the same write (e.g. \`{"price": 400}\`: it comes back at the new price, never orderable at the old one in between)`,
            params: Params,
            body: restore,
          },
          config: rowWrite('restored'),
          ...noFields,
        },
        change(undefined, (set) => ({ kind: 'restore', set })),
      );
    }

    app.post(
      '/restaurants/:rid/menu/refresh',
      {
        schema: {
          tags: ['menu'],
          security: bearer,
          summary: 'After an edit made outside the API (SQL, a restore): give the menu a new version (and so a new ETag), drop the cached menu on every instance and announce menu.menu.MenuChanged (staff)',
          description:
            'For a menu changed in the database directly. Such an edit may bypass the triggers that count versions (a data-only restore with --disable-triggers, session_replication_role = replica, a disabled trigger), so the refresh itself counts one: the menu read after it has a new ETag, and a conditional GET with an ETag from before the refresh (If-None-Match) never gets 304 for it. Every refresh is a new version, whether or not anything changed.',
          params: Type.Object({ rid: Uuid }),
          body: NoFields,
        },
        config: {
          docs: {
            success: { 204: "The menu's version went up by one: the next read of the menu loads it from the database, on every instance, with a new ETag" },
            errors: STAFF_ERRORS,
          },
        },
        preValidation: absentBodyIsEmpty,
      },
      async (request, reply) => {
        const { rid } = request.params;
        // A write that changes no menu row but the version: a new ETag, the announcement and the eviction after its commit are the point.
        await write(await editor(request, rid), rid, (tx) => bumpMenuVersion(tx, rid));
        return reply.status(204).send();
      },
    );

    // Pausing and resuming new orders (decision 0094): menu writes (the menu's lock, a new version,
    // menu.menu.MenuChanged, the cached menu evicted after commit), since the menu document shows it.
    app.put(
      '/restaurants/:rid/order-pause',
      {
        schema: {
          tags: ['menu'],
          security: bearer,
          summary: 'Pause new orders (staff): placements are refused with 409 RESTAURANT_NOT_TAKING_ORDERS until its end (`until`, or `forMinutes` from now) or a resume; orders already placed are unaffected',
          description:
            `Sets (or replaces) the pause. \`reason\` is shown to customers (the menu's \`pause.reason\` and the refusal's words). When the restaurant takes orders again by itself: \`forMinutes\` (1 to ${MAX_PAUSE_MINUTES}) from now by the database's clock, the way for a client to ask for a duration (a device's own clock may be off; e.g. \`{"forMinutes": 30}\`), or \`until\` (an instant later than now and at most ${MAX_PAUSE_DAYS} days ahead, by the same clock); at most one of the two, and with neither, until DELETE. The answer's \`pause.until\` is the end. The menu gets a new version (a new ETag) and shows \`takingOrders: false\` at once. An admin's pause is in the admin audit log.`,
          params: Type.Object({ rid: Uuid }),
          body: PauseBody,
          response: { 200: OrderTaking },
        },
        config: {
          docs: {
            success: { 200: '`{ restaurantId, takingOrders: false, pause: { reason, until, since } }`' },
            errors: { ...STAFF_ERRORS, 400: `VALIDATION_FAILED: a field unknown or malformed, a reason that breaks the name rule, \`until\` not later than now or more than ${MAX_PAUSE_DAYS} days ahead, \`forMinutes\` not a whole number from 1 to ${MAX_PAUSE_MINUTES}, or both \`until\` and \`forMinutes\`` },
          },
        },
        preValidation: absentBodyIsEmpty,
      },
      async (request) => {
        const { rid } = request.params;
        const context = await editor(request, rid);
        // `editor` authorized a staff member or an admin: the context's actor is theirs.
        const pause = await write(context, rid, (tx) => pauseOrders(tx, rid, request.body, actorName(context.actor!))).catch(inputAt('body')); // until, forMinutes: named bare by the operation
        request.auditDetails = { pause };
        return { restaurantId: rid, takingOrders: false, pause };
      },
    );
    app.delete(
      '/restaurants/:rid/order-pause',
      {
        schema: {
          tags: ['menu'],
          security: bearer,
          summary: 'Resume new orders (staff): the pause, if any, ends now',
          description: 'The menu gets a new version (a new ETag) and shows `takingOrders: true` at once. Resuming a restaurant that takes orders is not an error. An admin\'s resume is in the admin audit log.',
          params: Type.Object({ rid: Uuid }),
          body: NoFields,
          response: { 200: OrderTaking },
        },
        config: { docs: { success: { 200: '`{ restaurantId, takingOrders: true, pause: null }`' }, errors: STAFF_ERRORS } },
        preValidation: absentBodyIsEmpty,
      },
      async (request) => {
        const { rid } = request.params;
        const resumed = await write(await editor(request, rid), rid, (tx) => resumeOrders(tx, rid));
        request.auditDetails = { resumed };
        return { restaurantId: rid, takingOrders: true, pause: null };
      },
    );

    app.get(
      '/restaurants/:rid/menu',
      {
        schema: {
          tags: ['menu'],
          summary: 'The restaurant menu (public, cached), or as it stood at ?asOf=',
          params: Type.Object({ rid: Uuid }),
          querystring: Type.Object(
            {
              asOf: Type.Optional(
                Type.String({ format: 'date-time', description: "RFC 3339 instant, to the microsecond: a version's validFrom (GET …/items/:id/history) reads that version" }),
              ),
            },
            { additionalProperties: false },
          ),
          headers: Type.Object({ 'if-none-match': Type.Optional(Type.String({ description: 'The ETag of the menu you hold: 304 while it is current' })) }),
        },
        config: {
          docs: {
            success: {
              200: 'The menu: categories, items and their modifier groups, and whether the restaurant takes new orders now (`takingOrders`; `pause`: `{ reason, until, since }` while paused, else null; a document ?asOf= has neither)',
              304: 'Not Modified: the menu If-None-Match names is current',
            },
            headers: {
              ETag: 'The menu\'s version ("menu-N"; "menu-N-paused…" while new orders are paused), for If-None-Match; none with ?asOf=',
              'Cache-Control': 'no-cache (public data: a cache may keep it and asks with If-None-Match each time); no-store with ?asOf=, as every other answer',
              'X-Cache': 'Where the answer came from: miss, hit-<tier>, or off (no cache); none with ?asOf=',
            },
            errors: { 404: 'NOT_FOUND: no such restaurant' },
          },
        },
      },
      async (request, reply) => {
        const { rid } = request.params;
        // The text as sent (RFC 3339, checked by the schema), not a Date: history is kept to the microsecond.
        const asOf = request.query.asOf;
        if (asOf !== undefined || menus === null) {
          const { currency } = await restaurant(rid);
          const doc = await unitOfWork(publicReader(rid), (tx) => loadMenu(tx, rid, currency, asOf));
          if (asOf === undefined) {
            const etag = menuEtag(doc);
            reply.header('etag', etag).header('cache-control', MENU_CACHE_CONTROL).header('x-cache', 'off');
            if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.status(304).send();
          }
          return reply.type('application/json').send(doc.json);
        }
        // A hit touches nothing but the cache: the restaurant lookup is part of the load.
        const load = async () => {
          const { currency } = await restaurant(rid);
          const started = performance.now();
          const doc = await unitOfWork(publicReader(rid), (tx) => loadMenu(tx, rid, currency));
          // A paused document goes stale by itself when its pause ends, with no write to evict it: it is
          // cached no longer than the pause had left by the database's clock, counted from before the read
          // (so never past the end), on the cache's own clock. Comparing the database's `until` with this
          // process's clock instead, a clock ahead evicted the menu everywhere on each read near the end,
          // and a clock behind kept a reopened restaurant's menu paused (decision 0094).
          const left = doc.pause?.leftMs ?? null;
          return { body: doc.json, etag: menuEtag(doc), ...(left === null ? {} : { ttlSeconds: Math.max(1, left - (performance.now() - started)) / 1000 }) };
        };
        const entry = await menus.getOrLoad(rid, load);
        reply.header('etag', entry.etag).header('cache-control', MENU_CACHE_CONTROL).header('x-cache', entry.source === 'loader' ? 'miss' : `hit-${entry.source}`);
        if (ifNoneMatchHits(request.headers['if-none-match'], entry.etag)) return reply.status(304).send();
        return reply.type('application/json').send(entry.body);
      },
    );

    app.get(
      '/restaurants/:rid/menu/items/:id/history',
      {
        schema: {
          tags: ['menu'],
          summary: 'Every version of an item, with when it was current',
          params: Type.Object({ rid: Uuid, id: Uuid }),
          response: { 200: ItemHistory },
        },
        config: { docs: { errors: { 404: 'NOT_FOUND: no such item on this menu' } } },
      },
      async (request) => {
        const { rid, id } = request.params;
        const versions = await unitOfWork(publicReader(rid), (tx) => itemHistory(tx, rid, id));
        if (versions.length === 0) throw new NotFoundError('item', id);
        return { itemId: id, versions };
      },
    );

    app.get(
      '/menu/search',
      {
        schema: {
          tags: ['menu'],
          summary: "Full-text search across a city's restaurants (accents and case are ignored: `creme` finds \"Crème brûlée\", `café` finds \"Cafe\"; deleted items never match), best first, a page at a time; `next` (when more hits exist) is the `before` of the next page",
          querystring: SearchQuery,
          response: { 200: SearchPage },
        },
        config: {
          docs: {
            success: {
              200: `\`{ hits, next, unavailable }\`: at most \`limit\` hits (default ${SEARCH_HITS}), by rank (best first), then name (by code point), then item id; \`next\` (null on the last page) is the \`before\` of the next page. The city matches whatever its case; one the platform does not know has no restaurants, so its page is empty. A restaurant with a database of its own that fails or does not answer within ${DEDICATED_READ_TIMEOUT_MS / 1000} s is left out and counted in \`unavailable\` (the page is partial; 0 when it is not), so one restaurant's outage does not stop the search of its city`,
            },
            errors: {
              503: "DATABASE_UNAVAILABLE or DATABASE_BUSY: the shared database (the directory, or the restaurants without a database of their own) failed or is busy; retry shortly. A restaurant's own database is never the cause: it is counted in `unavailable`",
            },
          },
        },
      },
      async (request) => {
        const { q, city, limit = SEARCH_HITS, before } = request.query;
        // The city matches whatever its case (as the directory matched it when the restaurant was made),
        // so a cursor carries over between spellings of one city.
        const scope = searchScope(q, city.toLowerCase());
        const after = searchCursorOf(before, scope);
        const restaurants = await ports.directory.restaurantsIn(city);
        // The restaurants of the shared database in one read (a standby may answer it, decision 0082),
        // whose failure fails the search; each moved one where it lives (docs/decisions/0008), bounded,
        // and left out (counted in `unavailable`, reported by the router) when its database fails or does
        // not answer in time. Each read gives its first hits after the cursor, one more than a page:
        // merged in the same order, the first `limit` are the page, and whether any is left over says
        // whether there is a next one.
        const shared = restaurants.filter((r) => !r.dedicated).map((r) => r.id);
        const apart = restaurants.filter((r) => r.dedicated).map((r) => r.id);
        const [inShared, moved] = await Promise.all([
          unitOfWork({ ...publicReader(null), replicaOk: true, ownWritesOf: callerOf(request) }, (tx) => searchMenu(tx, shared, q, limit + 1, after)),
          deps.placements.readEachTenant(publicReader(null), apart, (tx, rid) => searchMenu(tx, [rid], q, limit + 1, after)),
        ]);
        const merged = [...inShared, ...moved.answers.flat()].sort(bySearchOrder);
        const page = merged.slice(0, limit);
        // Each price in its restaurant's currency, as the directory read above gave it (the menu's rows
        // have none: a restaurant's currency is the platform's, and cannot change after creation).
        const currencies = new Map(restaurants.map((r) => [r.id, r.currency]));
        return { hits: page.map((f) => ({ ...f.hit, currency: currencies.get(f.hit.restaurantId)! })), next: merged.length > limit ? encodeSearchCursor(page.at(-1)!.position, scope) : null, unavailable: moved.missing.length };
      },
    );
  };
}
