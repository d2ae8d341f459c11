import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type client from 'prom-client';
import { Type } from 'typebox';
import type { Principal, TokenService } from '../platform/auth/index.ts';
import { registerApiDocs } from './apiDocs.ts';
import { collectOperations, registerApiIndex, type IndexedOperation } from './apiIndex.ts';
import { registerAdminAudit, registerAuthentication, type AdminAuditEntry } from './auth.ts';
import { answerClientError } from './clientErrors.ts';
import { deadLetterRoutes, type DeadLetterRoutesOptions } from './deadLetterRoutes.ts';
import { registerHttpMetrics, type CountUnparsed, type CountUnrouted } from './httpMetrics.ts';
import { asksForPage, pagesPlugin, type PagesOptions, sendPageNotFound, servedPages } from './pages.ts';
import { errorHandler, sendProblem } from './problem.ts';
import { collectRouteMethods } from './methodNotAllowed.ts';
import { registerRequestInput, requestValidators } from './requestInput.ts';
import { DEFAULT_RESPONSE_HEADERS } from './responseHeaders.ts';

/** The result of a readiness probe: each check with whether it passed and why not. */
export interface Readiness {
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, { readonly ok: boolean; readonly detail?: string }>>;
}

/** What {@link buildApp} needs; nothing is read from globals. */
export interface AppDeps<ServiceDeps = unknown> {
  /** Largest request body in bytes; larger ones get 413. */
  readonly bodyLimit: number;
  /** Logger options (`{ level }`, and where the lines go: `stream`, stdout by default), a logger, or `false` for none. */
  readonly logger: boolean | { level: string; stream?: { write(text: string): void } } | FastifyBaseLogger;
  /** Registry `/metrics` exposes; HTTP metrics are added to it. */
  readonly metrics: client.Registry;
  /** Readiness probe behind `/health/ready`. */
  readonly readiness: () => Promise<Readiness>;
  /** Each service's routes, mounted under `/v1` as one encapsulated plugin each. */
  readonly services?: ReadonlyArray<{ readonly name: string; readonly routes?: FastifyPluginAsync<{ deps: ServiceDeps }> }>;
  /** Shared dependencies handed to every service plugin. */
  readonly serviceDeps?: ServiceDeps;
  /** Verifies bearer tokens; without it every request is anonymous. */
  readonly tokens?: TokenService;
  /** Runs on every verified token and refuses one by throwing (a token revoked since it was signed: 401). */
  readonly checkPrincipal?: (principal: Principal) => Promise<void>;
  /** Records every admin request (the audit trail). */
  readonly audit?: (entry: AdminAuditEntry) => Promise<void>;
  /** The dead-letter store and transport behind `/v1/admin/dead-letters`. */
  readonly deadLetters?: DeadLetterRoutesOptions;
  /** The web pages (board, courier, tracking, sign-in); without it none are served. */
  readonly pages?: PagesOptions;
  /**
   * How long a client may take to send a whole request (headers and body), in ms; one that has not
   * finished by then gets 408 `REQUEST_TIMEOUT` and its connection is closed. Default 30 000 (Fastify's
   * default, none, let a client that stopped mid-body hold its connection for ever, and `close()` with it).
   */
  readonly requestTimeoutMs?: number;
  /**
   * How long `close()` lets the requests still open finish, in ms, before it closes their connections
   * (a stream, a request still arriving). Default 10 000.
   */
  readonly closeGraceMs?: number;
}

/** {@link AppDeps.requestTimeoutMs}'s default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_GRACE_MS = 10_000;

/** The Fastify instance type Brigade's route plugins see (TypeBox schemas give validation and types). */
export type App = FastifyInstance;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The query string of a route that declares none: empty. */
const NoQuery = Type.Object({}, { additionalProperties: false });

/**
 * Builds the HTTP app without listening, so tests use `app.inject` and the CLI decides where to
 * listen. Health, metrics and docs stand beside `/v1`; `GET /v1` itself is the index (links to the docs
 * and every operation).
 *
 * @example
 * const app = await buildApp({ bodyLimit: 1 << 20, logger: false, metrics, readiness });
 * const res = await app.inject({ url: '/health/live' });
 */
export async function buildApp<ServiceDeps>(deps: AppDeps<ServiceDeps>): Promise<FastifyInstance> {
  const requestTimeout = deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Requests Fastify answers before routing run no hook; /metrics counts them through this.
  let countUnrouted: CountUnrouted = () => undefined;
  let countUnparsed: CountUnparsed = () => undefined;
  const app = Fastify({
    bodyLimit: deps.bodyLimit,
    // Node checks for requests past their timeout every connectionsCheckingInterval (30 s by default,
    // which doubled a 30 s timeout): a few times a timeout instead, at most every 5 s. Its headers
    // timeout (60 s by default) may not exceed the request's.
    requestTimeout,
    // Node's own check of Host answered a bare 400 without a body; the onRequest hook below answers it.
    http: { connectionsCheckingInterval: Math.max(10, Math.min(5000, Math.floor(requestTimeout / 4))), headersTimeout: Math.min(60_000, requestTimeout), requireHostHeader: false },
    ...(typeof deps.logger === 'object' && 'child' in deps.logger ? { loggerInstance: deps.logger } : { logger: deps.logger }),
    // Honour a caller's x-request-id (tracing through a gateway), else make one; it is in every log line.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    schemaController: { compilersFactory: { buildValidator: requestValidators } },
    // Errors Fastify meets before routing (a URL it cannot decode) get a problem document too.
    frameworkErrors: (error, request, reply) => {
      // Refused before routing, so before the onRequest hook that sets them on every other answer.
      reply.header('x-request-id', request.id).headers(DEFAULT_RESPONSE_HEADERS);
      countUnrouted(request, reply);
      return errorHandler(error, request, reply);
    },
    // And requests Node's parser refuses before Fastify sees them (headers too large, say).
    clientErrorHandler(this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket) {
      answerClientError.call(this, error, socket, (status) => countUnparsed(status));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', async (request, reply) => {
    // nosniff and no-store on every answer, errors and the not-found handler's included; a route that
    // sets its own Cache-Control (the menu's no-cache, the pages' assets') replaces it (see responseHeaders.ts).
    reply.header('x-request-id', request.id).headers(DEFAULT_RESPONSE_HEADERS);
    // RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without Host (HTTP/1.0 may omit it).
    const { httpVersionMajor: major, httpVersionMinor: minor } = request.raw;
    if (request.headers.host === undefined && (major > 1 || (major === 1 && minor >= 1))) {
      return sendProblem(request, reply, 400, 'MISSING_HOST', 'An HTTP/1.1 request needs a Host header; send one with the name (and port) the server was reached at.');
    }
  });
  // A request still in flight when the app closes answers with Connection: close. Closing stops new
  // connections and ends idle ones, but a connection that goes idle after that stays open for its
  // keep-alive (72 s): its answer ending it lets close() (and a Ctrl+C's shutdown) finish at once.
  // A connection whose request is still arriving, or a stream that has not ended by the grace, is
  // closed then: close() is bounded (a Ctrl+C of brigade serve waited for as long as a client kept
  // a request half-sent).
  let closing = false;
  let forceClose: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    forceClose = setTimeout(() => app.server.closeAllConnections(), deps.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS).unref();
  });
  app.addHook('onClose', async () => clearTimeout(forceClose));
  app.addHook('onSend', async (request, reply) => {
    if (closing && request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
  });
  registerRequestInput(app);
  app.setErrorHandler(errorHandler);
  const allowedMethods = collectRouteMethods(app);
  const pages = deps.pages !== undefined && servedPages(deps.pages).length > 0 ? deps.pages : undefined;
  app.setNotFoundHandler((request, reply) => {
    // A path that exists, asked with a method it does not take: 405 with the methods it does. (A route
    // of this method that found nothing, such as a page's file that is not served, is a 404.)
    const allow = allowedMethods(request.url);
    if (allow.length > 0 && !allow.includes(request.method)) {
      reply.header('allow', allow.join(', '));
      return sendProblem(request, reply, 405, 'METHOD_NOT_ALLOWED', `${request.method} is not taken at ${request.url.split('?')[0]}; it takes ${allow.join(', ')} (see /docs).`, { allow });
    }
    // A browser's address that is no page is shown a page that says so; the API's clients get the problem.
    if (pages !== undefined && asksForPage(request)) return sendPageNotFound(reply, pages, request.url);
    return sendProblem(request, reply, 404, 'ROUTE_NOT_FOUND', `No route ${request.method} ${request.url}; see /docs for the API.`);
  });
  ({ countUnrouted, countUnparsed } = registerHttpMetrics(app, deps.metrics));
  if (deps.tokens !== undefined) registerAuthentication(app, deps.tokens, deps.checkPrincipal);
  registerAdminAudit(app, deps.audit);

  await registerApiDocs(app);
  // A browser asks every page's origin for its icon: none, rather than a 404 in every console.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.status(204).header('cache-control', 'public, max-age=86400').send());

  // GET /v1 lists every documented operation: the probes here, and each service's routes, collected
  // in a scope of their own.
  const operations: IndexedOperation[] = [];
  const CheckResult = Type.Object({ ok: Type.Boolean(), checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) })) });
  await app.register(async (health) => {
    collectOperations(health, 'health', operations);
    health.get('/health/live', { schema: { tags: ['health'], summary: 'The process is up', response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
    health.get(
      '/health/ready',
      {
        schema: {
          tags: ['health'],
          summary: 'The database is reachable and migrations are current',
          description:
            "200 when every check that decides readiness passes, else 503. The process's databases (the platform's and those of the services it serves; " +
            "another service's own database is not checked) each give `database` and `migrations`; with several, each is suffixed by the setting it comes from: " +
            '`database:main` (DATABASE_URL), `database:ordering` (ORDERING_DATABASE_URL). A restaurant\'s own database (`database:db-…`), the placement catalog ' +
            'and `nats` (a process without workers) are shown without deciding.',
          response: { 200: CheckResult, 503: CheckResult },
        },
      },
      async (_request, reply) => {
        const readiness = await deps.readiness();
        return reply.status(readiness.ok ? 200 : 503).send(readiness);
      },
    );
    health.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', hide: true } }, async (_request, reply) =>
      reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
    );
  });

  await app.register(
    async (v1) => {
      // A /v1 route takes no query parameter it does not declare: one without a query-string schema
      // refuses any (400 naming it), as those with one do (before, `?zz=1` was refused by some routes
      // and silently ignored by most).
      v1.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, querystring: route.schema?.querystring ?? NoQuery };
      });
      await v1.register(async (scope) => {
        collectOperations(scope, 'index', operations);
        registerApiIndex(scope, operations);
      });
      const deadLetters = deps.deadLetters;
      if (deadLetters !== undefined) {
        await v1.register(async (scope) => {
          collectOperations(scope, 'admin', operations);
          await scope.register(deadLetterRoutes, deadLetters);
        });
      }
      for (const service of deps.services ?? []) {
        const routes = service.routes;
        if (routes === undefined) continue;
        await v1.register(async (scope) => {
          collectOperations(scope, service.name, operations);
          await scope.register(routes, { deps: deps.serviceDeps as ServiceDeps });
        });
      }
    },
    { prefix: '/v1' },
  );
  if (deps.pages !== undefined) await app.register(pagesPlugin, deps.pages);
  await app.ready();
  return app;
}
