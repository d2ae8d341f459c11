import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import { actorContext, authorize } from '../../../api/index.ts';
import type { UnitOfWorkContext } from '../../../platform/db/index.ts';
import type { GlobalPosition } from '../../../platform/events/index.ts';
import { NotFoundError } from '../../../platform/errors/index.ts';
import {
  comparePositions,
  formatPosition,
  listenToProjections,
  parsePosition,
  readCheckpoint,
  waitForPosition,
  type Projection,
  type ProjectionListener,
} from '../../../platform/projections/index.ts';
import type { ServiceDeps } from '../../../platform/runtime/index.ts';
import { boardQuery, courierTasksQuery, customerOrdersQuery } from './listQueries.ts';
import { ORDER_VIEWS, type OrderViewProjections } from './projections.ts';
import { readView, toViewItem, type ViewQuery } from './readView.ts';

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
 */
export function createViewRoutes(options: ViewRoutesOptions = {}): FastifyPluginAsync<{ deps: ServiceDeps }> {
  const views = options.views ?? ORDER_VIEWS;
  const maxWaitMs = options.maxWaitMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return async (plugin, { deps }) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const pool = deps.databases.poolFor('ordering');
    const streams = new Set<ServerResponse>();
    let listener: Promise<ProjectionListener> | null = null;
    let listenerFailedAt = -Infinity;
    /** The process's projection listener, opened on first use; a lost one is closed and the next caller opens another. */
    const sharedListener = (): Promise<ProjectionListener> => {
      if (listener !== null) return listener;
      const opening: Promise<ProjectionListener> = listenToProjections(pool, (error) => {
        app.log.warn({ err: error }, 'projection listener lost its connection');
        if (listener === opening) listener = null;
        void opening.then((lost) => lost.close()).catch(() => undefined);
      }).catch((error: unknown) => {
        if (listener === opening) listener = null;
        listenerFailedAt = Date.now();
        throw error;
      });
      listener = opening;
      return opening;
    };
    /** The listener for a read's wait, or none (the wait then polls) while opening one failed in the last second. */
    const listenerForWait = async (): Promise<ProjectionListener | undefined> =>
      Date.now() - listenerFailedAt < 1000 ? undefined : sharedListener().catch(() => undefined);
    plugin.addHook('preClose', async () => {
      for (const stream of streams) stream.end();
    });
    plugin.addHook('onClose', async () => {
      if (listener !== null) await (await listener).close();
    });

    /** Reads a view, after waiting for `?after=` when given. */
    const list = async (context: UnitOfWorkContext, projection: Projection, after: string | undefined, query: ViewQuery, signal: AbortSignal) => {
      let lagging = false;
      if (after !== undefined) {
        const listener = await listenerForWait();
        lagging = !(await waitForPosition(pool, projection, parsePosition(after), { timeoutMs: maxWaitMs, signal, ...(listener === undefined ? {} : { listener }) })).caughtUp;
      }
      // After a wait the checkpoint was seen on the primary: read there, where the view has caught up.
      const read = await deps.unitOfWork({ ...context, readOnly: true, replicaOk: after === undefined }, (tx) => readView(tx, projection, query));
      if (after !== undefined && lagging) lagging = comparePositions(read.checkpoint, parsePosition(after)) < 0;
      return { read, lagging };
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
        const { read, lagging } = await list(
          { service: 'ordering', tenantId: null, actor: { kind: 'courier', id: principal.subject } },
          views.courierTasks,
          after,
          courierTasksQuery(principal.subject, all, limit),
          abortOnClose(request),
        );
        reply.header('x-view-position', read.position).header('x-view-lagging', String(lagging));
        return { position: read.position, lagging, tasks: read.items };
      },
    );

    app.get(
      '/customers/me/orders',
      { schema: { tags: ['orders'], summary: "The caller's orders, newest first (customer)", security: bearer, querystring: ListQuery } },
      async (request, reply) => {
        const principal = authorize(request, 'customer');
        const { after, all, limit } = request.query;
        const { read, lagging } = await list(
          { service: 'ordering', tenantId: null, actor: { kind: 'customer', id: principal.subject } },
          views.customerOrders,
          after,
          customerOrdersQuery(principal.subject, all, limit),
          abortOnClose(request),
        );
        reply.header('x-view-position', read.position).header('x-view-lagging', String(lagging));
        return { position: read.position, lagging, orders: read.items };
      },
    );

    app.get(
      '/restaurants/:rid/board',
      { schema: { tags: ['orders'], summary: "The restaurant's live-board (staff): open orders unless ?all=true", security: bearer, params: Type.Object({ rid: Uuid }), querystring: ListQuery } },
      async (request, reply) => {
        const { rid } = request.params;
        const context = boardReader(request, rid);
        const { after, all, limit } = request.query;
        const { read, lagging } = await list(
          context,
          views.board,
          after,
          boardQuery(rid, all, limit),
          abortOnClose(request),
        );
        reply.header('x-view-position', read.position).header('x-view-lagging', String(lagging));
        return { position: read.position, lagging, orders: read.items };
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
        const events = await sharedListener();

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

