import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type pg from 'pg';
import { Type } from 'typebox';
import { errorHandler, headerLines, readIdempotencyKey, registerRequestInput, sendProblem } from '../../../api/index.ts';
import { authorizeCharge } from './authorizeCharge.ts';
import { captureCharge } from './captureCharge.ts';
import { createPayout } from './createPayout.ts';
import { NO_FAULTS, type ProviderFaults } from './faults.ts';
import { IdempotencyKeyRequiredError, InjectedUnavailableError } from './providerErrors.ts';
import { readLedger } from './readLedger.ts';
import { refundCharge } from './refundCharge.ts';
import { requestHash, runIdempotent, type IdempotentOutcome } from './runIdempotent.ts';
import { voidCharge } from './voidCharge.ts';
import { LEDGER_MOVEMENTS } from './resources.ts';
import { sleep } from '../../../platform/runtime/index.ts';

/** What {@link buildPaymentProvider} needs. */
export interface PaymentProviderDeps {
  /** The provider's own database (its tables live in schema `payment_provider`; see ensureProviderSchema). */
  readonly pool: pg.Pool;
  /** Injected faults, or a function read on every request (tests turn faults on and off). Default none. */
  readonly faults?: ProviderFaults | (() => ProviderFaults);
  /** Random numbers in [0, 1) for the fault rates. Default `Math.random`. */
  readonly random?: () => number;
  /** Logger options, a logger, or `false` (default). */
  readonly logger?: boolean | { level: string } | FastifyBaseLogger;
  /**
   * How long `close()` lets the requests still open finish, in ms, before it closes their connections.
   * Default 5000.
   */
  readonly closeGraceMs?: number;
}

/** {@link PaymentProviderDeps.closeGraceMs}'s default. */
const CLOSE_GRACE_MS = 5000;
/** How long a client may take to send a whole request: one that stopped half-way holds no connection for ever. */
const REQUEST_TIMEOUT_MS = 30_000;

const Amount = Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'minor units' });
const Currency = Type.String({ pattern: '^[A-Z]{3}$' });

/**
 * Builds the payment provider's HTTP app without listening: a stand-in for an external card processor
 * that Brigade calls over the network. Charges (authorize, then capture or void), refunds and payouts each take
 * an `Idempotency-Key` (same key and body: the same answer, replayed; another body: 422), every movement
 * of money is written to its ledger (`GET /ledger`), and faults are injected as configured: latency,
 * 503s, answers lost after the effect committed (timeouts) and an always-declined card (402).
 * Errors are `application/problem+json` with a stable `code`.
 *
 * @example
 * await ensureProviderSchema(pool);
 * const app = await buildPaymentProvider({ pool, faults: { ...NO_FAULTS, errorRate: 0.1 } });
 * await app.listen({ port: 3001 });
 */
export async function buildPaymentProvider(deps: PaymentProviderDeps): Promise<FastifyInstance> {
  const faults = (): ProviderFaults => (typeof deps.faults === 'function' ? deps.faults() : (deps.faults ?? NO_FAULTS));
  const random = deps.random ?? Math.random;
  const closing = new AbortController();
  const app = Fastify({
    ...(typeof deps.logger === 'object' && 'child' in deps.logger ? { loggerInstance: deps.logger } : { logger: deps.logger ?? false }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    requestTimeout: REQUEST_TIMEOUT_MS,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setErrorHandler(errorHandler);
  // What the platform's own routes take, checked the same way: a NUL character or half a surrogate
  // pair anywhere in the body, the query or the path is a 400 VALIDATION_FAILED naming the field (before,
  // PostgreSQL refused a NUL in `reference`, `destination` or `GET /ledger?reference=` and the client got
  // a 500, which it retries), a `__proto__` key a 400 FORBIDDEN_JSON_KEY, a body not UTF-8 a 400.
  registerRequestInput(app);
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, 404, 'ROUTE_NOT_FOUND', `No route ${request.method} ${request.url}`));
  // A held (timed-out) answer must not keep the server from closing, nor a connection whose request
  // never ends (a client that stopped sending it half-way, its caller aborted): after the grace, close
  // cuts what is still open. Without it `brigade demo`, stopped by Ctrl+C under load, waited on such a
  // connection for ever after "stopping the rush and the platform".
  let forceClose: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing.abort();
    forceClose = setTimeout(() => app.server.closeAllConnections(), deps.closeGraceMs ?? CLOSE_GRACE_MS).unref();
  });
  app.addHook('onClose', async () => clearTimeout(forceClose));

  // Faults before anything happens: latency, then an injected 503 (nothing is written).
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST') return;
    const f = faults();
    if (f.latencyMs > 0) await sleep(f.latencyMs, closing.signal);
    if (f.errorRate > 0 && random() < f.errorRate) throw new InjectedUnavailableError();
  });

  /** Runs a money-moving request once per key, then answers (or, as a timeout fault, holds the answer). */
  const idempotent = async (
    request: FastifyRequest,
    reply: FastifyReply,
    created: number,
    effect: (client: pg.PoolClient, key: string) => Promise<object>,
  ) => {
    const { key, fault } = readIdempotencyKey(headerLines(request.raw.rawHeaders, 'idempotency-key'));
    if (key === null) throw new IdempotencyKeyRequiredError(fault);
    const outcome: IdempotentOutcome = await runIdempotent(deps.pool, key, requestHash(request.method, request.url, request.body), async (client) => ({
      status: created,
      body: { ...(await effect(client, key)) },
    }));
    const f = faults();
    if (f.timeoutRate > 0 && random() < f.timeoutRate) {
      // The effect has committed; the answer is lost to a client that gives up sooner.
      await sleep(f.hangMs, closing.signal);
    }
    if (outcome.replayed) reply.header('idempotent-replayed', 'true');
    if (outcome.status >= 400) {
      const { code, message, details } = outcome.body as { code: string; message: string; details?: Record<string, unknown> };
      return sendProblem(request, reply, outcome.status, code, message, details ?? {});
    }
    return reply.status(outcome.status).send(outcome.body);
  };

  app.get('/health/live', async () => ({ ok: true }));

  app.post(
    '/charges',
    {
      schema: {
        body: Type.Object(
          { amount: Amount, currency: Currency, card: Type.String({ pattern: '^[0-9]{12,19}$' }), reference: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
      },
    },
    (request, reply) => idempotent(request, reply, 201, (client, key) => authorizeCharge(client, request.body, key, faults().declineCard)),
  );

  app.post(
    '/charges/:id/capture',
    { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } },
    (request, reply) => idempotent(request, reply, 200, (client, key) => captureCharge(client, request.params.id, key)),
  );

  // Releases an authorization that will not be captured (the order ended): nothing taken, nothing to refund.
  app.post(
    '/charges/:id/void',
    { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } },
    (request, reply) => idempotent(request, reply, 200, (client, key) => voidCharge(client, request.params.id, key)),
  );

  app.post(
    '/refunds',
    { schema: { body: Type.Object({ chargeId: Type.String({ format: 'uuid' }), amount: Amount }, { additionalProperties: false }) } },
    (request, reply) => idempotent(request, reply, 201, (client, key) => refundCharge(client, request.body, key)),
  );

  app.post(
    '/payouts',
    { schema: { body: Type.Object({ destination: Type.String({ minLength: 1, maxLength: 200 }), amount: Amount, currency: Currency }, { additionalProperties: false }) } },
    (request, reply) => idempotent(request, reply, 201, (client, key) => createPayout(client, request.body, key)),
  );

  app.get(
    '/ledger',
    {
      schema: {
        querystring: Type.Object(
          {
            reference: Type.Optional(Type.String({ maxLength: 200 })),
            chargeId: Type.Optional(Type.String({ format: 'uuid' })),
            idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
            movement: Type.Optional(Type.Union(LEDGER_MOVEMENTS.map((m) => Type.Literal(m)))),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => ({ entries: await readLedger(deps.pool, request.query) }),
  );

  await app.ready();
  return app;
}
