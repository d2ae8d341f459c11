import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import { Type } from 'typebox';
import { acceptsEventStream, actorContext, authorize, GLOBAL_POSITION, hijackedHeaders } from '../../../api/index.ts';
import type { Tx, UnitOfWorkContext } from '../../../platform/db/index.ts';
import { localTimeouts } from '../../../platform/db/localTimeouts.ts';
import { START, type GlobalPosition } from '../../../platform/events/index.ts';
import { BrigadeError, NotFoundError, ValidationError } from '../../../platform/errors/index.ts';
import { comparePositions, formatPosition, parsePosition, readViewGeneration, sentBeforeRebuild, waitForPosition, type Projection } from '../../../platform/projections/index.ts';
import { readLogHeadOf } from '../../../platform/projections/readLogHead.ts';
import { waitForPositionOrHead, type HeadBoundedWaitResult } from '../../../platform/projections/waitForPositionOrHead.ts';
import { sharedCounter, sharedGauge, withDeadline, type ServiceDeps } from '../../../platform/runtime/index.ts';
import { answerWithin } from '../../../platform/runtime/answerWithin.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { isStaleList } from '../../../platform/tenancy/placementCatalog.ts';
import { boardQuery, courierTasksQuery, customerOrdersQuery, decodeCursor, encodeCursor, type MergedViewQuery, type PageCursor, type PagedViewQuery, type RawViewRow } from './listQueries.ts';
import { mergeViewRows } from './mergeViewRows.ts';
import { createProjectionListeners } from './projectionListeners.ts';
import { ORDER_VIEWS, type OrderViewProjections } from './projections.ts';
import { readView, toViewItem, type ViewQuery } from './readView.ts';
import type { CourierLookup, CustomerKeys, RestaurantLookup } from '../ports.ts';
import { revealAddresses } from '../operations/revealPersonalFields.ts';
import { isUuid } from '../../../platform/ids/index.ts';
import { withPickUpPlaces } from './withPickUpPlaces.ts';

/** Options of {@link createViewRoutes}. */
export interface ViewRoutesOptions {
  /** The projections to read. Default {@link ORDER_VIEWS}. */
  readonly views?: OrderViewProjections;
  /** The longest a `?after=` read waits for the view to catch up, in ms. Default 2000. */
  readonly maxWaitMs?: number;
  /**
   * How long the customer's or courier's list waits for a dedicated database beyond its `?after=` wait,
   * in ms: a dedicated database that fails or has not answered by then is left out of the answer,
   * which says `lagging: true`. Default 1000.
   */
  readonly databaseTimeoutMs?: number;
  /**
   * Interval of SSE heartbeats (comment lines), in ms. Default 15000. A stream whose client has read
   * nothing of a full buffer through two heartbeats in a row is cut (see {@link createViewRoutes}). It
   * is also how often a stream checks its token again (`checkPrincipal`): a token revoked meanwhile
   * ends the stream within about one heartbeat.
   */
  readonly heartbeatMs?: number;
  /**
   * The restaurant directory: an admin's board or stream of a restaurant it does not know is a 404,
   * and each courier task names its restaurant and pick-up address (`withPickUpPlaces`; a directory
   * that has not answered within `databaseTimeoutMs` leaves them `null`, with `pickupUnknown` saying why).
   * Without it (routes mounted alone, in tests) an admin reads any id's board, empty if unknown, and
   * tasks carry no pick-up fields.
   */
  readonly restaurants?: RestaurantLookup;
  /**
   * The courier directory: a courier token whose courier is not registered reads its tasks as a 404
   * (as delivery's availability route answers). Without it (routes mounted alone) any courier id reads.
   */
  readonly couriers?: CourierLookup;
  /**
   * The customers' data keys: a task's delivery address is kept sealed in the view (decision 0090) and
   * opened as it is answered (`null` once its customer was erased). Without it (routes mounted alone)
   * the sealed value is answered as it is.
   */
  readonly customerKeys?: Pick<CustomerKeys, 'readKeys'>;
}

const Uuid = Type.String({ format: 'uuid' });
/** What a read of a restaurant's board may be refused with, besides its input's 400. */
const BOARD_ERRORS = { 403: 'FORBIDDEN: not a staff or admin token', 404: "NOT_FOUND: no such restaurant (or another restaurant's, for its staff)" };
const bearer = [{ bearer: [] }];
/** A list's query: `after`, `all`, `limit`, and `before`, a page cursor (the answer's `next`). */
const ListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: GLOBAL_POSITION, description: 'read-your-writes: wait until the view has applied this position' })),
    all: Type.Optional(Type.Boolean({ description: 'include delivered, rejected and cancelled orders' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'rows per page (a `next` in the answer when there are more)' })),
    before: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "the rows after a page: the `next` of the page before's answer" })),
  },
  { additionalProperties: false },
);

/** A courier task's fields, as the OpenAPI document describes them. */
const TASK_FIELDS =
  'Each task: `orderId`, `status`, `restaurantId`, `restaurantName` and `pickupAddress` (where to pick the order up, as the restaurant has it now; ' +
  '`pickupAddress` is null until the restaurant sets one: ask the restaurant), `pickupUnknown` (null, or why `restaurantName` and `pickupAddress` are null: ' +
  'the restaurant directory did not answer in time, or does not know the restaurant), `deliveryAddress` (null once the customer was erased), ' +
  '`courierId`, `assignedAt`, `updatedAt`, `version`, `position`';

/** The headers every list answers with. */
const VIEW_HEADERS = { 'X-View-Position': 'The position the view has applied (as `position`)', 'X-View-Lagging': 'true when the view may miss a write (as `lagging`)' };
/** A list's answer, as the OpenAPI document describes it. */
const LIST_ANSWER = '`{ position, lagging, <rows>, next }`: `next` (when more rows exist) is the `before` of the next page';

/** The cursor of `?before=`, or undefined without one; 400 when it is not a cursor an answer gave. */
function cursorOf(before: string | undefined): PageCursor | undefined {
  if (before === undefined) return undefined;
  const cursor = decodeCursor(before);
  if (cursor === null) throw new ValidationError('`before` is not a page cursor: send the `next` of an earlier answer, unchanged', { field: 'querystring.before' });
  return cursor;
}

/**
 * The first `limit` rows of a list read with one more, and `next`, the cursor of the rows after them,
 * when there were more (else null).
 */
function pageOf(rows: readonly RawViewRow[], query: PagedViewQuery, limit: number): { rows: readonly RawViewRow[]; next: string | null } {
  if (rows.length <= limit) return { rows, next: null };
  const page = rows.slice(0, limit);
  return { rows: page, next: encodeCursor(page.at(-1)!, query.sortKey) };
}

/** 404 for a courier token whose courier the directory does not know, saying what to do. */
function courierNotRegistered(courierId: string): BrigadeError {
  return new BrigadeError('NOT_FOUND', 404, `Courier ${courierId} is not registered; ask an admin to register the courier (POST /v1/couriers), then use a token for that courier`, {
    details: { resource: 'courier', courierId },
  });
}

/** A database the order views are projected in, as a read sees it. */
interface ViewDatabase {
  /** Its pool, for the wait (checkpoint, head, listener); asked after the read's first transaction, which finds a moved restaurant's. */
  readonly pool: () => pg.Pool;
  /** Its transactions of the read (routed for the shared database and a board; on the database for a dedicated one). */
  readonly unitOfWork: UnitOfWorkFn;
}

/** One database's answer to a read. */
interface DatabaseRead {
  readonly checkpoint: GlobalPosition;
  readonly rows: readonly RawViewRow[];
  readonly lagging: boolean;
  /** With `after`: whether this database's log reaches it (see `waitForPositionOrHead`); `undefined` when that is not known. */
  readonly reachesAfter: boolean | undefined;
}

/** The part of a dedicated database that failed or answered too late: no rows, and the answer lags. */
const LEFT_OUT: DatabaseRead = { checkpoint: START, rows: [], lagging: true, reachesAfter: undefined };

/** How one database is read (see `readIn` in {@link createViewRoutes}). */
interface ReadOptions {
  /** `?after=`: the position the read waits for, or none. */
  readonly after: GlobalPosition | undefined;
  /** When the wait for `after` ends (ms since the epoch). */
  readonly waitUntil: number;
  /** Stops the wait (the client went away). */
  readonly signal: AbortSignal;
  /**
   * Asked only when the view is behind `after`: whether this is the one database there is (the cached
   * catalog lists no dedicated database). The wait is then for `after` itself (`waitForPosition`), as
   * before tenants could move: no read of the log's head. Absent: there may be others.
   */
  readonly alone?: () => Promise<boolean>;
  /**
   * Bounds each of the read's transactions in the database until this instant (`localTimeouts`), for a
   * dedicated database: one that hangs while it stays connected (a lock, a stall) then gives its
   * connections back, where the caller only stops waiting for it.
   */
  readonly boundedUntil?: number;
}

/** The longest delay a Node timer keeps (2^31 − 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The order read models over HTTP:
 * - `GET /couriers/me/tasks` (courier): the orders assigned to the caller, open ones unless `?all=true`;
 * - `GET /customers/me/orders` (customer): the caller's orders, newest first;
 * - `GET /restaurants/:rid/board` (staff of rid, admin): the restaurant's open orders (all with `?all=true`),
 *   oldest first, a page at a time (`next`, as the lists above);
 * - `GET /restaurants/:rid/board/stream` (staff of rid, admin): Server-Sent Events, one `order` event per
 *   board row change as it is projected, `id` = the row's position (reconnect with `Last-Event-ID`).
 *   A client that reads slowly is written to as fast as it reads: the stream stops writing while its
 *   socket's buffer is full and goes on at `drain` with the rows it had read, reading the view again
 *   only once they are written. What it holds for such a client meanwhile is bounded, not small: the
 *   socket's buffer (its high-water mark, 16 KiB by default on Node 20 and 64 KiB from Node 22, and
 *   the row whose write filled it) and the rest of one read of the view (up to 1000 rows read and not
 *   yet written); the kernel's socket buffers hold more, outside the process. One that has read
 *   nothing of a full buffer from one heartbeat to the next is cut (its reconnect resumes after the
 *   last event it read, and misses nothing). A read of the view that fails
 *   (a full pool, a lost connection) is tried again at each heartbeat until one succeeds, at most one
 *   try a heartbeat; `brigade_board_stream_read_failures_total` counts the failures.
 *   The stream's token is checked again at each heartbeat (`deps.checkPrincipal`, the check every
 *   request passes; one statement, never two at once for a stream): a token revoked since the stream
 *   opened (decision 0007) ends it with a comment saying so and what to do, as its expiry does; a check
 *   that cannot tell (the database unavailable) leaves the stream open and is made at the next
 *   heartbeat (`brigade_board_stream_token_check_failures_total` counts them).
 *
 * Every list answers `{ position, lagging, <items>, next }` with headers `x-view-position` (the
 * projection's checkpoint) and `x-view-lagging`. With `?after=<position>` (a command's response
 * position) the read waits up to `maxWaitMs` until the view has applied it; if it has not by then, or
 * if the position was written in none of the databases read, it answers with the view as it is and
 * `lagging: true` (decision 0032). A read that finds the view caught up takes one transaction per
 * database, as a read without `?after=` does; only a view behind the position costs the wait. While
 * nothing has moved (the cached placement catalog lists no dedicated database, and for the board its
 * restaurant was read in the shared database) that wait is for the position itself (`waitForPosition`),
 * as before restaurants could move: it starts from the checkpoint the first read found and wakes the
 * projector's leader at once, so a behind read costs no more transactions than it did then (no read of
 * the log's head).
 *
 * Restaurants moved to a database of their own (decision 0008) have their view rows projected there:
 * - The board reads in its restaurant's database through the routed transaction, which follows a
 *   move, and its `position` is that database's checkpoint. `?after=` waits there (the pool of
 *   `placements.placementOf`, where that first read ran) for the position or the database's head,
 *   whichever comes first (see below). A position past that head was not written there: the board
 *   holds it if the shared database's log reaches it (a position of the restaurant's from before its
 *   move, whose events were copied; or the lists' `position`), and else answers `lagging: true`.
 * - The stream listens in the restaurant's database. When it finds the restaurant moved since it
 *   opened (a push's routed read ran elsewhere; looked for at each change the old database notifies,
 *   and at a heartbeat after the catalog lists a new database), it sends an event with an empty `id`
 *   and no data, then ends: the client's last event id is cleared (an `EventSource` then reconnects
 *   without `Last-Event-ID`; positions of the old database mean nothing in the new one), the stream it
 *   reconnects to starts at the new database's checkpoint, and the client reloads the board as on any
 *   fresh start. A stream whose listener lost its connection ends too, without that event: the client
 *   reconnects with its `Last-Event-ID` and misses nothing. A `Last-Event-ID` past the checkpoint of
 *   the restaurant's database (one it never sent: a failover that lost the last writes, a restore, a
 *   move to a database whose positions are lower) gets that event and the end at once, not a resume.
 * - The courier's tasks and the customer's orders read every database (the shared one and each
 *   dedicated one of the placement catalog) and merge the rows in the query's order and limit (see
 *   `mergeViewRows`, also for a row found in two databases during a move). Their `position` and
 *   `x-view-position` are the SHARED database's checkpoint: the positions of the others compare with
 *   nothing a client holds from another database, so they are left out. `lagging` is true when any
 *   database's view lags. A dedicated database that fails, or has not answered `databaseTimeoutMs`
 *   after the wait, is left out (logged) and the answer says `lagging: true`. Each transaction the read
 *   runs there is bounded in that database by the same instant (`statement_timeout` and `lock_timeout`,
 *   transaction-local): one that hangs while it stays connected (a lock on its view, a stall) ends its
 *   statements there and gives its pool's connections back, where the read only stops waiting. A read
 *   while the placement catalog could not be read says `lagging: true` too: never read (then only the
 *   shared database is read), or not at its last read (then its last known list is: it may miss a
 *   database placed since). A failing shared database fails the read (500): it holds most
 *   restaurants' rows and the answer's position.
 * - `?after=` on a read of several databases: a position names the database that wrote it only by its
 *   value, so each database waits until its view has applied `after` or the head of its own log when the
 *   wait began (the last event committed there), whichever comes first (`waitForPositionOrHead`). In the
 *   database that wrote `after`, the head is at or past it: the read holds the write. In the others it
 *   waits at most for events already committed, all in parallel and within the same `maxWaitMs`. If no
 *   database's log reaches `after`, the catalog is read again (not from its cache) and any database it
 *   lists since is read too; a position still past every head was written nowhere: `lagging: true`.
 *   Limits: a database whose numbers run higher (another cluster) can reach a position written in one
 *   the cached catalog does not list yet (placed less than a second ago through another process), and
 *   the read then answers without it. While the cached catalog lists no dedicated database the shared
 *   database waits for `after` itself (see above): a position written in a database placed since
 *   costs the whole wait, after which the catalog is read again and that database's rows are read as
 *   they are, the answer saying `lagging: true`.
 */
export function createViewRoutes(options: ViewRoutesOptions = {}): FastifyPluginAsync<{ deps: ServiceDeps }> {
  const views = options.views ?? ORDER_VIEWS;
  const maxWaitMs = options.maxWaitMs ?? 2000;
  const databaseTimeoutMs = options.databaseTimeoutMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const sharedPool = deps.databases.poolFor('ordering');
    const shared: ViewDatabase = { pool: () => sharedPool, unitOfWork: deps.unitOfWork };
    const streams = new Set<ServerResponse>();
    // How many board streams this process serves: what an operator watches for a leak, or a crowd.
    const openStreams = sharedGauge(deps.metrics, { name: 'brigade_board_streams', help: 'Live-board streams (Server-Sent Events) open in this process' });
    const streamReadFailures = sharedCounter(deps.metrics, {
      name: 'brigade_board_stream_read_failures_total',
      help: "Reads of the board view by a live-board stream that failed (each is tried again at the stream's next heartbeat)",
    });
    const tokenCheckFailures = sharedCounter(deps.metrics, {
      name: 'brigade_board_stream_token_check_failures_total',
      help: "Checks of an open live-board stream's token that could not tell (the database unavailable); the stream goes on and checks again at its next heartbeat",
    });
    const listeners = createProjectionListeners((error) => app.log.warn({ err: error }, 'projection listener lost its connection'));
    plugin.addHook('preClose', async () => {
      for (const stream of streams) stream.end();
    });
    plugin.addHook('onClose', () => listeners.close());

    /** A dedicated database of the catalog, with its tenant-less ordering transactions. */
    const dedicated = (url: string): ViewDatabase => {
      const pool = deps.databases.poolForUrl(url);
      return { pool: () => pool, unitOfWork: deps.placements.onDatabase(url, 'ordering').unitOfWork };
    };
    /** The pool of a placement as `placementOf` gives it (`''`: the shared database). */
    const poolOfPlacement = (placed: string): pg.Pool => (placed === '' ? sharedPool : deps.databases.poolForUrl(placed));
    /** A restaurant's database: its transactions are routed, and after one of them `placementOf` says where it ran. */
    const restaurantDatabase = (rid: string): ViewDatabase => ({ pool: () => poolOfPlacement(deps.placements.placementOf(rid)), unitOfWork: deps.unitOfWork });
    /** A pool's label for logs (`main`, `db-…`), never its connection string. */
    const labelOf = (pool: pg.Pool) => deps.databases.labelOf(pool) ?? 'unlabelled';

    /**
     * Reads a view in one database. With `after`: the first transaction reads the checkpoint, and the
     * rows if it is at or past `after` (one transaction when caught up); else the read waits there until
     * `waitUntil`, for `after` alone when this is the only database (`alone`), else for `after` or the
     * database's head (`waitForPositionOrHead`), and reads again. Either wait starts from the checkpoint
     * the first transaction read.
     */
    const readIn = async (database: ViewDatabase, context: UnitOfWorkContext, projection: Projection, query: ViewQuery, options: ReadOptions): Promise<DatabaseRead> => {
      const { after, boundedUntil } = options;
      /** One read-only transaction of the read: with `boundedUntil`, its first statement sets the timeouts. */
      const transaction = <T>(replicaOk: boolean, fn: (tx: Tx) => Promise<T>): Promise<T> =>
        database.unitOfWork({ ...context, readOnly: true, replicaOk }, boundedUntil === undefined ? fn : async (tx) => (await Promise.all([tx.query(localTimeouts(boundedUntil)), fn(tx)]))[1]);
      const first = await transaction(after === undefined, (tx) => readView(tx, projection, query, after === undefined ? {} : { atLeast: after }));
      if (after === undefined) return { checkpoint: first.checkpoint, rows: first.rows, lagging: false, reachesAfter: undefined };
      if (!first.behind) return { checkpoint: first.checkpoint, rows: first.rows, lagging: false, reachesAfter: true };
      const pool = database.pool();
      // Bounded by the wait: the listener's open waits for a connection, which a full pool gives only
      // at its acquire timeout (before, the wait began after that, and after the client had left).
      const listener = await listeners.forWait(pool, options.waitUntil, options.signal);
      const wait = {
        checkpoint: first.checkpoint,
        timeoutMs: Math.max(0, options.waitUntil - Date.now()),
        signal: options.signal,
        ...(listener === undefined ? {} : { listener }),
        ...(boundedUntil === undefined ? {} : { boundedUntil }),
      };
      const waited: HeadBoundedWaitResult =
        (await options.alone?.()) === true
          ? { ...(await waitForPosition(pool, projection, after, wait)), target: after, reachesAfter: undefined }
          : await waitForPositionOrHead(pool, projection, after, wait);
      // After a wait the checkpoint was seen on the primary: read there, where the view has caught up.
      const read = await transaction(false, (tx) => readView(tx, projection, query));
      const reachesAfter = waited.reachesAfter ?? (comparePositions(read.checkpoint, after) >= 0 ? true : undefined);
      return { checkpoint: read.checkpoint, rows: read.rows, lagging: !waited.caughtUp && comparePositions(read.checkpoint, waited.target) < 0, reachesAfter };
    };

    /** `read` of a dedicated database, or {@link LEFT_OUT} (logged) when it fails or has not answered by `deadline`. */
    const answeredBy = (read: Promise<DatabaseRead>, deadline: number, database: string, log: FastifyBaseLogger): Promise<DatabaseRead> =>
      withDeadline(read, Math.max(0, deadline - Date.now())).catch((error: unknown) => {
        log.warn({ err: error, database }, 'an order view read answers without a dedicated database (lagging: true)');
        return LEFT_OUT;
      });

    /**
     * Reads a view of rows without a tenant (an actor's) in every database and merges them; the shared
     * database's checkpoint is the answer's position. See {@link createViewRoutes} for `after`.
     */
    const readEverywhere = async (request: FastifyRequest, context: UnitOfWorkContext, projection: Projection, after: string | undefined, page: MergedViewQuery) => {
      // One row more than the page, from each database: whether there are more rows after it.
      const pageLimit = Math.trunc(page.limit);
      const query: MergedViewQuery = { ...page, limit: pageLimit + 1 };
      const position = after === undefined ? undefined : parsePosition(after);
      const signal = abortOnClose(request);
      const waitUntil = Date.now() + (position === undefined ? 0 : maxWaitMs);
      // The catalog could not be read (never, or not at its last read): a database may be missing.
      let catalogUnsure = false;
      const catalog = async (fresh: boolean): Promise<readonly string[]> => {
        try {
          const listed = await deps.placements.dedicatedDatabases({ fresh });
          if (isStaleList(listed)) catalogUnsure = true;
          return listed;
        } catch (error) {
          request.log.warn({ err: error }, 'placement catalog unreadable: the read covers the shared database only (lagging: true)');
          catalogUnsure = true;
          return [];
        }
      };
      const deadline = waitUntil + databaseTimeoutMs;
      const readDedicated = (url: string) => {
        const database = dedicated(url);
        const read = readIn(database, context, projection, query, { after: position, waitUntil, signal, boundedUntil: deadline });
        return answeredBy(read, deadline, labelOf(database.pool()), request.log);
      };
      const urls = await catalog(false);
      const alone = () => Promise.resolve(urls.length === 0);
      const reads = await Promise.all([readIn(shared, context, projection, query, { after: position, waitUntil, signal, alone }), ...urls.map(readDedicated)]);
      let writtenNowhere = false;
      if (position !== undefined && !reads.some((r) => r.reachesAfter === true)) {
        // `after` lies past every log read: written in a database the cached catalog does not list yet, or nowhere.
        const more = (await catalog(true)).filter((url) => !urls.includes(url));
        reads.push(...(await Promise.all(more.map(readDedicated))));
        writtenNowhere = !reads.some((r) => r.reachesAfter === true);
      }
      const { rows, next } = pageOf(mergeViewRows(reads.map((r) => r.rows), query), query, pageLimit);
      return { position: formatPosition(reads[0]!.checkpoint), lagging: catalogUnsure || writtenNowhere || reads.some((r) => r.lagging), items: rows.map(toViewItem), next };
    };

    /** Reads the board of `rid` in its database, after the wait for `after` when given (see {@link createViewRoutes}). */
    const readBoard = async (request: FastifyRequest, context: UnitOfWorkContext, rid: string, after: string | undefined, query: ViewQuery) => {
      const position = after === undefined ? undefined : parsePosition(after);
      const signal = abortOnClose(request);
      const waitUntil = Date.now() + maxWaitMs;
      const database = restaurantDatabase(rid);
      // Behind: the restaurant's database is the only one when it is the shared one and nothing has
      // moved. A catalog not read within the last second is read now, on the pool: bounded by the wait
      // (a catalog not read by then says nothing, and the wait is for `after` or the head).
      const alone = async () =>
        deps.placements.placementOf(rid) === '' && (await answerWithin(deps.placements.dedicatedDatabases(), waitUntil - Date.now(), signal).catch(() => undefined))?.length === 0;
      const read = await readIn(database, context, views.board, query, { after: position, waitUntil, signal, alone });
      if (position === undefined || read.reachesAfter !== false || read.lagging) return read;
      // Past the head of the restaurant's database: not written there. Its events from before a move
      // to a database of its own are in the shared database's log, and the board holds them (copied).
      const pool = database.pool();
      const sharedHead = pool === sharedPool ? undefined : await readLogHeadOf(sharedPool, views.board, { timeoutMs: Math.max(0, waitUntil - Date.now()), signal });
      return { ...read, lagging: sharedHead === undefined || comparePositions(sharedHead, position) < 0 };
    };
    const abortOnClose = (request: FastifyRequest) => {
      const controller = new AbortController();
      request.raw.once('close', () => controller.abort());
      return controller.signal;
    };

    /**
     * Staff of `rid` or an admin; another restaurant's board is a 404, and so is, for an admin, the
     * board of a restaurant the directory does not know (a staff token names a known one).
     */
    const boardReader = async (request: FastifyRequest, rid: string): Promise<UnitOfWorkContext> => {
      const principal = authorize(request, 'staff', 'admin');
      if (principal.role === 'staff' && principal.restaurantId !== rid) throw new NotFoundError('restaurant', rid);
      if (principal.role === 'admin' && options.restaurants !== undefined && (await options.restaurants.restaurant(rid)) === null) throw new NotFoundError('restaurant', rid);
      return actorContext(principal, 'ordering', rid);
    };

    app.get(
      '/couriers/me/tasks',
      {
        schema: { tags: ['orders'], summary: "The caller's delivery tasks (courier), newest assignment first, open ones unless ?all=true; `next` (when more exist) is the `before` of the next page; 404 for a courier not registered", security: bearer, querystring: ListQuery },
        config: { docs: { success: { 200: `The tasks: ${LIST_ANSWER}. ${TASK_FIELDS}` }, headers: VIEW_HEADERS, errors: { 403: 'FORBIDDEN: not a courier token', 404: 'NOT_FOUND: the courier is not registered' } } },
      },
      async (request, reply) => {
        const principal = authorize(request, 'courier');
        const { after, all, limit, before } = request.query;
        const cursor = cursorOf(before);
        if (options.couriers !== undefined && (!isUuid(principal.subject) || (await options.couriers.courier(principal.subject)) === null)) {
          throw courierNotRegistered(principal.subject);
        }
        const { position, lagging, items, next } = await readEverywhere(
          request,
          { service: 'ordering', tenantId: null, actor: { kind: 'courier', id: principal.subject } },
          views.courierTasks,
          after,
          courierTasksQuery(principal.subject, all, limit, cursor),
        );
        const revealed = options.customerKeys === undefined ? items : await revealAddresses(items as Array<{ deliveryAddress?: unknown }>, options.customerKeys.readKeys);
        const tasks = options.restaurants === undefined ? revealed : await withPickUpPlaces(revealed, options.restaurants, databaseTimeoutMs, request.log);
        reply.header('x-view-position', position).header('x-view-lagging', String(lagging));
        return { position, lagging, tasks, next };
      },
    );

    app.get(
      '/customers/me/orders',
      {
        schema: { tags: ['orders'], summary: "The caller's orders, newest first (customer); `next` (when more exist) is the `before` of the next page", security: bearer, querystring: ListQuery },
        config: { docs: { success: { 200: `The orders: ${LIST_ANSWER}` }, headers: VIEW_HEADERS, errors: { 403: 'FORBIDDEN: not a customer token' } } },
      },
      async (request, reply) => {
        const principal = authorize(request, 'customer');
        const { after, all, limit, before } = request.query;
        const { position, lagging, items, next } = await readEverywhere(
          request,
          { service: 'ordering', tenantId: null, actor: { kind: 'customer', id: principal.subject } },
          views.customerOrders,
          after,
          customerOrdersQuery(principal.subject, all, limit, cursorOf(before)),
        );
        reply.header('x-view-position', position).header('x-view-lagging', String(lagging));
        return { position, lagging, orders: items, next };
      },
    );

    app.get(
      '/restaurants/:rid/board',
      {
        schema: {
          tags: ['orders'],
          summary:
            "The restaurant's live-board (staff), oldest order first, open orders unless ?all=true, 500 a page unless ?limit; `next` (when more exist) is the `before` of the next page",
          security: bearer,
          params: Type.Object({ rid: Uuid }),
          querystring: ListQuery,
        },
        config: { docs: { success: { 200: `The board: ${LIST_ANSWER}` }, headers: VIEW_HEADERS, errors: BOARD_ERRORS } },
      },
      async (request, reply) => {
        const { rid } = request.params;
        const context = await boardReader(request, rid);
        const { after, all, limit, before } = request.query;
        const cursor = cursorOf(before);
        // One row more than the page: whether there are more rows after it.
        const query = boardQuery(rid, all, limit, cursor);
        const read = await readBoard(request, context, rid, after, { ...query, limit: query.limit + 1 });
        const { rows, next } = pageOf(read.rows, query, query.limit);
        const position = formatPosition(read.checkpoint);
        reply.header('x-view-position', position).header('x-view-lagging', String(read.lagging));
        return { position, lagging: read.lagging, orders: rows.map(toViewItem), next };
      },
    );

    app.get(
      '/restaurants/:rid/board/stream',
      {
        schema: {
          tags: ['orders'],
          summary: 'The live-board as Server-Sent Events: one `order` event per row change (staff)',
          security: bearer,
          params: Type.Object({ rid: Uuid }),
          querystring: Type.Object({}, { additionalProperties: false }),
          headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ description: 'The id of the last event read: the stream resumes after it' })) }),
        },
        config: {
          docs: {
            success: {
              200: 'Server-Sent Events: `start` (data `{ position }`), then one `order` per board row change (data: the row), each with its position as `id`; comment lines as heartbeats. An event with an empty `id` and no data, then the end: the restaurant moved, the board was rebuilt (`brigade projections rebuild`), the Last-Event-ID is past the board\'s checkpoint (a failover, a restore, a move) or from before the board was rebuilt: reconnect without Last-Event-ID and reload the board. The stream also ends (after a comment saying why) when its token expires or is revoked: reconnect with a new token',
            },
            produces: 'text/event-stream',
            errors: { ...BOARD_ERRORS, 400: 'VALIDATION_FAILED: a query parameter, or a Last-Event-ID that is not a position', 406: 'NOT_ACCEPTABLE: Accept does not take text/event-stream' },
          },
        },
        // No HEAD: Fastify's HEAD of a GET runs the handler, which held an endless stream with no headers (405 instead).
        exposeHeadRoute: false,
      },
      async (request, reply) => {
        const { rid } = request.params;
        const context: UnitOfWorkContext = { ...(await boardReader(request, rid)), readOnly: true };
        // A client that takes only something else (JSON, say) would get an endless stream it cannot read.
        if (!acceptsEventStream(request.headers.accept)) {
          throw new BrigadeError('NOT_ACCEPTABLE', 406, 'This is a stream of Server-Sent Events: send Accept: text/event-stream (or none), or read the board as JSON at GET …/board.');
        }
        const lastEventId = request.headers['last-event-id'];
        const resumeAfter = typeof lastEventId === 'string' && lastEventId !== '' ? parsePosition(lastEventId, 'Last-Event-ID') : undefined;
        // The projection's checkpoint in the restaurant's database, read by a routed transaction, which
        // follows a move of the restaurant.
        // With its generation: the stream ends when a rebuild swaps in another (see `push`).
        const view = await deps.unitOfWork(context, (tx) => readViewGeneration(tx, views.board));
        const { checkpoint } = view;
        // Every id this stream sends is at most the checkpoint of the database it read (rows and
        // checkpoint commit together): an id past it comes from another history, one this database
        // never had (a failover to a standby that lost the last writes, a restore, a move to a database
        // whose positions are lower). Resumed after it, a stream would skip every change up to it, for
        // good (it did before): such a stream clears the client's id and ends instead, as after a move.
        const unknownId = resumeAfter !== undefined && comparePositions(resumeAfter, checkpoint) > 0;
        // A rebuild swapped in rows that keep the positions of their last events: resumed after an id the
        // view before it may have sent, the stream would never send the rebuilt rows. Refused as above.
        const beforeRebuild = resumeAfter !== undefined && !unknownId && sentBeforeRebuild(resumeAfter, view);
        // Resume after the client's last event, else start at the checkpoint (changes from now on).
        let since: GlobalPosition = resumeAfter ?? checkpoint;
        // The board's changes are notified in the restaurant's database: listen where that read ran. A
        // push that finds the restaurant placed elsewhere than here ends the stream (see the JSDoc of
        // createViewRoutes).
        const pool = poolOfPlacement(deps.placements.placementOf(rid));
        const placed = deps.placements.placementOf(rid);
        const events = await listeners.of(pool);
        let catalogSeen = new Set(await deps.placements.dedicatedDatabases().catch(() => [] as readonly string[]));

        await reply.auditBeforeHijack();
        reply.hijack();
        const raw = reply.raw;
        // A client that left during the awaits above has closed already, and its 'close' events are
        // gone: nothing below would ever be cleaned up (a heartbeat and a subscription per such client,
        // which also kept the process from ending).
        if (request.raw.destroyed || raw.destroyed || raw.socket?.destroyed === true) {
          raw.destroy();
          return;
        }
        // Fastify's headers never reach a hijacked reply: those the app set (x-request-id, nosniff,
        // no-store: the board is staff's data) are written with the stream's own.
        raw.writeHead(200, hijackedHeaders(reply, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' }));
        // An id this database never sent: the client forgets it (an `id` field without a value) and
        // reconnects without one, so it starts afresh: a `start` at the checkpoint, and the board read
        // anew (the page replaces its board on a fresh start, which takes off orders that ended in the
        // changes it never got; a `start` on this resumed connection would only be merged).
        if (unknownId) {
          raw.end(`retry: 2000\n: board ${rid}: Last-Event-ID ${formatPosition(since)} is past this database's checkpoint ${formatPosition(checkpoint)} (a failover, a restore or a move): reconnect without it and read the board again\nid\n\n`);
          return;
        }
        if (beforeRebuild) {
          raw.end(`retry: 2000\n: board ${rid}: Last-Event-ID ${formatPosition(since)} is from before the board was rebuilt (at ${formatPosition(view.rebuiltAt)}): reconnect without it and read the board again\nid\n\n`);
          return;
        }
        // `start` names the position the stream continues from: a client reads the board with
        // `?after=` it (on the primary, caught up that far) and misses nothing in between. A board read
        // without it may come from a standby behind that position (decision 0082), and an order placed
        // in the gap was in neither the read nor the stream until it changed again.
        // It carries the position as its id too: a client that saw no change before its connection dropped
        // resumes from it (before, it reconnected without Last-Event-ID, and an order that ended in the
        // gap stayed on its board: the new stream started after the change, the board read holds open orders only).
        raw.write(`retry: 2000\n: board ${rid} from ${formatPosition(since)}\n\nid: ${formatPosition(since)}\nevent: start\ndata: ${JSON.stringify({ position: formatPosition(since) })}\n\n`);
        streams.add(raw);
        openStreams.inc();

        let running = false;
        // A change was notified since the last read of the view: the push reads again.
        let again = true;
        let closed = false;
        // The socket's buffer is full: nothing more is written until it drains.
        let blocked = false;
        // Blocked at the last heartbeat, with no drain since: the next heartbeat that finds it blocked cuts the stream.
        let stalled = false;
        // Rows read and not written yet (the socket's buffer filled), with the next one's index, and
        // whether their read filled its limit (more may follow them). Up to one read's 1000 rows wait
        // here for a slow client: kept rather than read again at `drain`, so it costs no more reads.
        let unsent: ReadonlyArray<{ row: Record<string, unknown> }> = [];
        let next = 0;
        let full = false;
        const moved = () => deps.placements.placementOf(rid) !== placed;
        /**
         * Ends the stream; after a move or a rebuild, first clears the client's last event id (an `id` field without
         * a value). Behind a full buffer the end waits for the client to read; one that has not read
         * it by the second heartbeat from now is cut.
         */
        const end = (why: string, forgetLastEventId: boolean) => {
          if (closed) return;
          raw.end(`: ${why}\n${forgetLastEventId ? 'id\n' : ''}\n`);
          cleanup();
          if (!blocked) return;
          const cutUnread = setTimeout(() => raw.destroy(), 2 * heartbeatMs);
          cutUnread.unref();
          raw.once('close', () => clearTimeout(cutUnread));
        };
        /**
         * Cuts the connection of a client that reads nothing: an end would wait for it, holding the
         * buffer. It reconnects with the last event it read (a cut event is not one) and misses nothing.
         */
        const cut = () => {
          request.log.info({ unsent: raw.writableLength }, 'board stream cut: its client read nothing of a full buffer for a heartbeat');
          cleanup();
          raw.destroy();
        };
        const endMoved = () => end('the restaurant moved to another database: reconnect', true);
        const endRebuilt = () => end('the board was rebuilt (its rows changed where they stood): reconnect and read the board again', true);
        /** Writes `text`; false when the socket's buffer is full: nothing more is written until `drain`, where the push goes on. */
        const send = (text: string): boolean => {
          if (raw.write(text)) return true;
          blocked = true;
          raw.once('drain', () => {
            blocked = false;
            stalled = false;
            run();
          });
          return false;
        };
        /**
         * Pushes every row of this board changed after `since`, in position order, reading the view
         * again while changes were notified (`again`) or a read filled its limit. Writing stops while
         * the socket's buffer is full and goes on at `drain` with the rows already read: notifications
         * meanwhile only set `again`, so a client that reads slowly costs no more reads than a fast one.
         * A read that fails leaves `again` set and rejects (`run` logs it); the next heartbeat reads again.
         */
        const push = async (): Promise<void> => {
          if (running || blocked || closed) return;
          running = true;
          try {
            while (!closed && !blocked) {
              if (next === unsent.length) {
                if (!again && !full) return;
                // Cleared before the read, so a change notified while it runs is read after it.
                again = false;
                let rows: ReadonlyArray<{ row: Record<string, unknown> }>;
                let generation: bigint;
                try {
                  // The view's generation in the same round trip: a rebuild's swap (which notifies) changes it.
                  [{ generation }, { rows }] = await deps.unitOfWork(context, (tx) =>
                    Promise.all([
                      readViewGeneration(tx, views.board),
                      tx.query<{ row: Record<string, unknown> }>(
                        `select to_jsonb(t) as row from ordering.board_view t
                          where t.tenant_id = $1 and (t.last_transaction_id, t.last_position) > ($2::xid8, $3::bigint)
                          order by t.last_transaction_id, t.last_position limit 1000`,
                        [rid, since.transactionId.toString(), since.position.toString()],
                      ),
                    ]),
                  );
                } catch (error) {
                  // The changes it was to read are still unsent (a full pool's DATABASE_BUSY, a dropped
                  // connection, a failover): the next heartbeat reads again. Not at once: a database
                  // that fails every read is asked once a heartbeat, not in a loop. Before, nothing read
                  // again until the next board change of the database, maybe another restaurant's.
                  again = true;
                  streamReadFailures.inc();
                  throw error;
                }
                // The routed read ran in another database than this stream's: its positions do not continue `since`.
                if (moved()) return endMoved();
                // A rebuild swapped in rows that kept their positions: none is after `since`, so none would be
                // pushed. The client forgets its id, reconnects afresh and reads the rebuilt board.
                if (generation !== view.generation) return endRebuilt();
                [unsent, next, full] = [rows, 0, rows.length === 1000];
              }
              while (next < unsent.length && !closed) {
                const item = toViewItem(unsent[next++]!.row);
                since = parsePosition(String(item.position));
                if (!send(`id: ${String(item.position)}\nevent: order\ndata: ${JSON.stringify(item)}\n\n`)) break;
              }
            }
          } finally {
            running = false;
          }
        };
        const run = () => {
          push().catch((error: unknown) => request.log.warn({ err: error }, 'board stream push failed'));
        };
        const wake = () => {
          again = true;
          run();
        };
        /**
         * At each heartbeat: a move this process has followed ends the stream; a database the catalog
         * lists since the last look may be the restaurant's, so a push (routed) looks. Otherwise only
         * the changes the old database notifies would run a push that finds the move.
         */
        const lookForMove = async () => {
          if (moved()) return endMoved();
          const now = await deps.placements.dedicatedDatabases().catch(() => [] as readonly string[]);
          if (!now.some((url) => !catalogSeen.has(url))) return;
          catalogSeen = new Set(now);
          wake();
        };
        const unsubscribe = events.subscribe(views.board, wake);
        const onLost = () => end('the server lost its connection to the board\'s notifications: reconnect', false);
        events.lost.addEventListener('abort', onLost, { once: true });
        // The token passed the check when the request started; one revoked since (a staff member let go,
        // a leaked admin token: decision 0007) must not go on reading the board until it expires (12 h,
        // up to 30 days). So each heartbeat checks it again: the stream's one clock, which already paces
        // its retries and its look for a move, and a revocation takes effect within about one (15 s by
        // default) for one primary-key statement per stream per heartbeat (300 open boards: 20 a
        // second). A check still running at the next heartbeat (a slow database) is not doubled.
        const principal = request.principal;
        let checking = false;
        const checkToken = () => {
          if (checking || closed || principal === null) return;
          checking = true;
          deps
            .checkPrincipal(principal)
            .catch((error: unknown) => {
              // A 401 is the check's refusal; anything else only says it could not tell (the database
              // unavailable): the stream goes on, and the next heartbeat checks again.
              if (error instanceof BrigadeError && error.status === 401) {
                end(`the token was revoked: ${error.message.replace(/[\r\n]+/g, ' ')} Then reconnect with the new token.`, false);
                return;
              }
              tokenCheckFailures.inc();
              request.log.warn({ err: error }, 'board stream: its token could not be checked again; the next heartbeat tries again');
            })
            .finally(() => {
              checking = false;
            });
        };
        const heartbeat = setInterval(() => {
          // Behind a full buffer a heartbeat reaches the client no sooner than what waits there.
          if (blocked) {
            if (stalled) return cut();
            stalled = true;
          } else {
            send(': heartbeat\n\n');
            // A read that failed left `again` set: this is its one retry until the next heartbeat (a
            // push running now, or one blocked by that write, already has it in hand).
            if (again) run();
          }
          checkToken();
          lookForMove().catch((error: unknown) => request.log.warn({ err: error }, 'board stream: looking for a move failed'));
        }, heartbeatMs);
        heartbeat.unref();
        // The check above does not look at the expiry: this timer ends the stream at it (the client's
        // reconnect then gets 401 TOKEN_EXPIRED and must sign in again).
        // A timer fires at once past 2^31 − 1 ms (24.8 days; tokens may live 30): it is set again until the expiry is near.
        const expiresAt = request.principal?.expiresAt;
        let expiry: NodeJS.Timeout | undefined;
        const expireAt = (at: number) => {
          const left = at - Date.now();
          expiry = left > MAX_TIMER_MS ? setTimeout(() => expireAt(at), MAX_TIMER_MS) : setTimeout(() => end('the token expired: sign in again, then reconnect', false), Math.max(0, left));
          expiry.unref();
        };
        if (expiresAt !== undefined) expireAt(expiresAt);
        const cleanup = () => {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          clearTimeout(expiry);
          unsubscribe();
          events.lost.removeEventListener('abort', onLost);
          streams.delete(raw);
          openStreams.dec();
        };
        request.raw.once('close', cleanup);
        raw.once('close', cleanup);
        if (events.lost.aborted) onLost();
        else wake();
      },
    );
  };
}

