import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import { Type } from 'typebox';
import { actorContext, authorize } from '../../../api/index.ts';
import type { UnitOfWorkContext } from '../../../platform/db/index.ts';
import type { GlobalPosition } from '../../../platform/events/index.ts';
import { NotFoundError } from '../../../platform/errors/index.ts';
import { comparePositions, formatPosition, parsePosition, readCheckpoint, waitForPosition, type Projection } from '../../../platform/projections/index.ts';
import { waitForPositionOrHead } from '../../../platform/projections/waitForPositionOrHead.ts';
import type { ServiceDeps } from '../../../platform/runtime/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { boardQuery, courierTasksQuery, customerOrdersQuery, type MergedViewQuery, type RawViewRow } from './listQueries.ts';
import { mergeViewRows } from './mergeViewRows.ts';
import { createProjectionListeners } from './projectionListeners.ts';
import { ORDER_VIEWS, type OrderViewProjections } from './projections.ts';
import { readViewRows } from './readViewRows.ts';
import { toViewItem, type ViewQuery } from './readView.ts';

/** Options of {@link createViewRoutes}. */
export interface ViewRoutesOptions {
  /** The projections to read. Default {@link ORDER_VIEWS}. */
  readonly views?: OrderViewProjections;
  /** The longest a `?after=` read waits for the view to catch up, in ms. Default 2000. */
  readonly maxWaitMs?: number;
  /** Interval of SSE heartbeats (comment lines), in ms. Default 15000. */
  readonly heartbeatMs?: number;
}

const Uuid = Type.String({ format: 'uuid' });
const bearer = [{ bearer: [] }];
const ListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,20}\\.[0-9]{1,19}$', description: 'read-your-writes: wait until the view has applied this position' })),
    all: Type.Optional(Type.Boolean({ description: 'include delivered, rejected and cancelled orders' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  { additionalProperties: false },
);

/** A database the order views are projected in: its pool (a wait, the listener) and its transactions. */
interface ViewDatabase {
  readonly pool: pg.Pool;
  readonly unitOfWork: UnitOfWorkFn;
  /**
   * How `?after=` waits there: `position`, for the position itself (a read of the database that holds
   * every write it can be given); `head`, for the position or the database's head, whichever comes
   * first (one of several databases, where the position may have been written elsewhere).
   */
  readonly waitFor: 'position' | 'head';
}

/** One database's answer to a list read. */
interface DatabaseRead {
  readonly checkpoint: GlobalPosition;
  readonly rows: RawViewRow[];
  readonly lagging: boolean;
}

/**
 * The order read models over HTTP:
 * - `GET /couriers/me/tasks` (courier): the orders assigned to the caller, open ones unless `?all=true`;
 * - `GET /customers/me/orders` (customer): the caller's orders, newest first;
 * - `GET /restaurants/:rid/board` (staff of rid, admin): the restaurant's open orders (all with `?all=true`);
 * - `GET /restaurants/:rid/board/stream` (staff of rid, admin): Server-Sent Events, one `order` event per
 *   board row change as it is projected, `id` = the row's position (reconnect with `Last-Event-ID`).
 *
 * Every list answers `{ position, lagging, <items> }` with headers `x-view-position` (the projection's
 * checkpoint) and `x-view-lagging`. With `?after=<position>` (a command's response position) the read
 * waits up to `maxWaitMs` until the view has applied it; if it has not by then, it answers with the view
 * as it is and `lagging: true` (decision 0032).
 *
 * Restaurants moved to a database of their own (decision 0008) have their view rows projected there:
 * - The board reads, waits and listens in its restaurant's database (`placements.poolOfTenant`), and
 *   its `position` is that database's checkpoint. `?after=` waits there for the position itself, which
 *   a command on one of the restaurant's orders wrote in that database: a position from before a move
 *   to a database of another cluster may then wait `maxWaitMs` and answer `lagging: true`. The stream's
 *   listener is the one of the database the restaurant lived in when the stream opened: a stream open
 *   across a move stops hearing the board's changes; reconnect without `Last-Event-ID` (decision 0008).
 * - The courier's tasks and the customer's orders read every database (the shared one and each
 *   dedicated one of the placement catalog) and merge the rows in the query's order and limit (the
 *   first `limit` of the whole; a row found in two databases during a move is the shared one's).
 *   Their `position` and `x-view-position` are the SHARED database's checkpoint: the positions of the
 *   others compare with nothing a client holds from another database, so they are left out. `lagging`
 *   is true when any database's view lags.
 * - `?after=` on a read of several databases: a position names the database that wrote it only by its
 *   value, so each database waits until its view has applied `after` or the head of its own log when the
 *   wait began (the last event committed there), whichever comes first (`waitForPositionOrHead`). In the
 *   database that wrote `after`, the head is at or past it: the read holds the write. In the others it
 *   waits at most for events already committed, all in parallel and within the same `maxWaitMs`. So a
 *   position past every database's head (written nowhere) answers `lagging: false` once each view has
 *   applied its own head, where a single database's wait for it would run out and say `true`.
 */
export function createViewRoutes(options: ViewRoutesOptions = {}): FastifyPluginAsync<{ deps: ServiceDeps }> {
  const views = options.views ?? ORDER_VIEWS;
  const maxWaitMs = options.maxWaitMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const shared: ViewDatabase = { pool: deps.databases.poolFor('ordering'), unitOfWork: deps.unitOfWork, waitFor: 'head' };
    const streams = new Set<ServerResponse>();
    const listeners = createProjectionListeners((error) => app.log.warn({ err: error }, 'projection listener lost its connection'));
    plugin.addHook('preClose', async () => {
      for (const stream of streams) stream.end();
    });
    plugin.addHook('onClose', () => listeners.close());

    /** The shared database, then each dedicated one of the placement catalog, with its tenant-less ordering transactions. */
    const everyDatabase = async (): Promise<ViewDatabase[]> => [
      shared,
      ...(await deps.placements.dedicatedDatabases()).map((url): ViewDatabase => ({ pool: deps.databases.poolForUrl(url), unitOfWork: deps.placements.onDatabase(url, 'ordering').unitOfWork, waitFor: 'head' })),
    ];
    /** The database of the context's restaurant, with the routed transactions: its positions are written there. */
    const databaseOf = async (context: UnitOfWorkContext): Promise<ViewDatabase> => ({ pool: await deps.placements.poolOfTenant(context), unitOfWork: deps.unitOfWork, waitFor: 'position' });

    /** Reads a view in one database, after waiting there for `after` when given (see {@link ViewDatabase.waitFor}). */
    const readIn = async (database: ViewDatabase, context: UnitOfWorkContext, projection: Projection, after: GlobalPosition | undefined, query: ViewQuery, signal: AbortSignal): Promise<DatabaseRead> => {
      let target: GlobalPosition | undefined;
      let lagging = false;
      if (after !== undefined) {
        const listener = await listeners.forWait(database.pool);
        const waitOptions = { timeoutMs: maxWaitMs, signal, ...(listener === undefined ? {} : { listener }) };
        const waited = database.waitFor === 'head' ? await waitForPositionOrHead(database.pool, projection, after, waitOptions) : { ...(await waitForPosition(database.pool, projection, after, waitOptions)), target: after };
        target = waited.target;
        lagging = !waited.caughtUp;
      }
      // After a wait the checkpoint was seen on the primary: read there, where the view has caught up.
      const read = await database.unitOfWork({ ...context, readOnly: true, replicaOk: after === undefined }, (tx) => readViewRows(tx, projection, query));
      if (target !== undefined && lagging) lagging = comparePositions(read.checkpoint, target) < 0;
      return { ...read, lagging };
    };
    /** Reads a view of rows without a tenant (an actor's) in every database and merges them; the shared database's checkpoint is the answer's position. */
    const readEverywhere = async (context: UnitOfWorkContext, projection: Projection, after: string | undefined, query: MergedViewQuery, signal: AbortSignal) => {
      const position = after === undefined ? undefined : parsePosition(after);
      const reads = await Promise.all((await everyDatabase()).map((database) => readIn(database, context, projection, position, query, signal)));
      const items = mergeViewRows(reads.map((r) => r.rows), query).map(toViewItem);
      return { position: formatPosition(reads[0]!.checkpoint), lagging: reads.some((r) => r.lagging), items };
    };
    const abortOnClose = (request: FastifyRequest) => {
      const controller = new AbortController();
      request.raw.once('close', () => controller.abort());
      return controller.signal;
    };

    /** Staff of `rid` or an admin; another restaurant's board is a 404. */
    const boardReader = (request: FastifyRequest, rid: string): UnitOfWorkContext => {
      const principal = authorize(request, 'staff', 'admin');
      if (principal.role === 'staff' && principal.restaurantId !== rid) throw new NotFoundError('restaurant', rid);
      return actorContext(principal, 'ordering', rid);
    };

    app.get(
      '/couriers/me/tasks',
      { schema: { tags: ['orders'], summary: "The caller's delivery tasks (courier), open ones unless ?all=true", security: bearer, querystring: ListQuery } },
      async (request, reply) => {
        const principal = authorize(request, 'courier');
        const { after, all, limit } = request.query;
        const { position, lagging, items } = await readEverywhere(
          { service: 'ordering', tenantId: null, actor: { kind: 'courier', id: principal.subject } },
          views.courierTasks,
          after,
          courierTasksQuery(principal.subject, all, limit),
          abortOnClose(request),
        );
        reply.header('x-view-position', position).header('x-view-lagging', String(lagging));
        return { position, lagging, tasks: items };
      },
    );

    app.get(
      '/customers/me/orders',
      { schema: { tags: ['orders'], summary: "The caller's orders, newest first (customer)", security: bearer, querystring: ListQuery } },
      async (request, reply) => {
        const principal = authorize(request, 'customer');
        const { after, all, limit } = request.query;
        const { position, lagging, items } = await readEverywhere(
          { service: 'ordering', tenantId: null, actor: { kind: 'customer', id: principal.subject } },
          views.customerOrders,
          after,
          customerOrdersQuery(principal.subject, all, limit),
          abortOnClose(request),
        );
        reply.header('x-view-position', position).header('x-view-lagging', String(lagging));
        return { position, lagging, orders: items };
      },
    );

    app.get(
      '/restaurants/:rid/board',
      { schema: { tags: ['orders'], summary: "The restaurant's live-board (staff): open orders unless ?all=true", security: bearer, params: Type.Object({ rid: Uuid }), querystring: ListQuery } },
      async (request, reply) => {
        const { rid } = request.params;
        const context = boardReader(request, rid);
        const { after, all, limit } = request.query;
        const read = await readIn(await databaseOf(context), context, views.board, after === undefined ? undefined : parsePosition(after), boardQuery(rid, all, limit), abortOnClose(request));
        const position = formatPosition(read.checkpoint);
        reply.header('x-view-position', position).header('x-view-lagging', String(read.lagging));
        return { position, lagging: read.lagging, orders: read.rows.map(toViewItem) };
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
        },
      },
      async (request, reply) => {
        const { rid } = request.params;
        const context: UnitOfWorkContext = { ...boardReader(request, rid), readOnly: true };
        const lastEventId = request.headers['last-event-id'];
        // Resume after the client's last event, else start at the projection's checkpoint (changes from now on).
        let since: GlobalPosition =
          typeof lastEventId === 'string' && lastEventId !== ''
            ? parsePosition(lastEventId, 'Last-Event-ID')
            : await deps.unitOfWork(context, (tx) => readCheckpoint(tx, views.board));
        // The board's changes are notified in the restaurant's database: listen there.
        const events = await listeners.of((await databaseOf(context)).pool);

        await reply.auditBeforeHijack();
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        raw.write(`retry: 2000\n: board ${rid} from ${formatPosition(since)}\n\n`);
        streams.add(raw);

        let running = false;
        let again = false;
        let closed = false;
        // Pushes every row of this board changed after `since`, in position order; coalesces wake-ups
        // that arrive while a push runs into one more pass.
        const push = async (): Promise<void> => {
          if (running) {
            again = true;
            return;
          }
          running = true;
          try {
            do {
              again = false;
              const { rows } = await deps.unitOfWork(context, (tx) =>
                tx.query<{ row: Record<string, unknown> }>(
                  `select to_jsonb(t) as row from ordering.board_view t
                    where t.tenant_id = $1 and (t.last_transaction_id, t.last_position) > ($2::xid8, $3::bigint)
                    order by t.last_transaction_id, t.last_position limit 1000`,
                  [rid, since.transactionId.toString(), since.position.toString()],
                ),
              );
              for (const { row } of rows) {
                if (closed) return;
                const item = toViewItem(row);
                raw.write(`id: ${String(item.position)}\nevent: order\ndata: ${JSON.stringify(item)}\n\n`);
                since = parsePosition(String(item.position));
              }
              if (rows.length === 1000) again = true;
            } while (again && !closed);
          } finally {
            running = false;
          }
        };
        const wake = () => {
          push().catch((error: unknown) => request.log.warn({ err: error }, 'board stream push failed'));
        };
        const unsubscribe = events.subscribe(views.board, wake);
        const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), heartbeatMs);
        const cleanup = () => {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
          streams.delete(raw);
        };
        request.raw.once('close', cleanup);
        raw.once('close', cleanup);
        wake();
      },
    );
  };
}

