import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { Type } from 'typebox';
import {
  DEFAULT_REDRIVE_LIMIT,
  dropDeadLetter,
  listDeadLetterPage,
  MAX_REDRIVE_LIMIT,
  NoSuchSubscriptionError,
  redriveDeadLetters,
  showDeadLetter,
  type Transport,
} from '../platform/messaging/index.ts';
import { authorize } from './auth.ts';
import { INPUT_ERRORS } from './documentOperations.ts';
import { inputAt } from './inputAt.ts';
import { absentBodyIsEmpty, NoFields } from './requestInput.ts';

/** Where the dead letters are and how to send them back. */
export interface DeadLetterRoutesOptions {
  readonly pool: pg.Pool;
  readonly transport: Transport;
}

const Subscription = Type.String({ minLength: 1, maxLength: 200 });
const admin = { tags: ['admin'], security: [{ bearer: [] }] };
/** A dead letter's id: a UUID (a malformed one is a 400 naming `params.id`, as on every other route). */
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
/** What an admin request of the store may be refused with, besides its input's 400. */
const FORBIDDEN = { 403: 'FORBIDDEN: not an admin token' };
/** A `subscription` that names none (a typo), besides the input's other 400s. */
const NO_SUCH_SUBSCRIPTION = {
  400: `${INPUT_ERRORS}; or NO_SUCH_SUBSCRIPTION: \`subscription\` names no subscription, neither the registry's nor a letter's (\`field\` says where it was, \`querystring.subscription\` or \`body.subscription\`; \`known\` lists those there are)`,
};
/** …and one about a letter. */
const LETTER_ERRORS = { ...FORBIDDEN, 404: 'NOT_FOUND: no such dead letter' };
/** A redrive or drop of a letter another redrive or drop holds (it was a 404, though the letter was there and might stay). */
const BUSY = 'DEAD_LETTER_BUSY: another redrive or drop of it is in flight, and may yet leave it parked; retry in a moment';

/**
 * Rethrows a {@link NoSuchSubscriptionError} naming where the request carried the subscription
 * (`querystring.subscription`, `body.subscription`), as the schema's 400s on the same routes do.
 */
const subscriptionAt =
  (field: string) =>
  (error: unknown): never => {
    throw error instanceof NoSuchSubscriptionError ? error.at(field) : error;
  };

/** A command on one letter has no fields: no body, or `{}` (before, any JSON body was taken and ignored). */
const noFields = { preValidation: absentBodyIsEmpty };

/**
 * Admin HTTP for the dead-letter store, the same operations as `brigade dlq`: list (optionally of one
 * subscription; a page at a time, with the total and the next page's cursor), show, redrive one or
 * all (a bounded run at a time, with what is left and the next run's cursor), drop. Every call is
 * audited like any admin request.
 */
export const deadLetterRoutes: FastifyPluginAsync<DeadLetterRoutesOptions> = async (plugin, { pool, transport }) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  // Aborted when the app begins to close: a run of the redrive of all stops after the letter in flight
  // and answers, before the pools close under it (it went on, and failed with "Cannot use a pool after
  // calling end on the pool", a 500).
  const shuttingDown = new AbortController();
  plugin.addHook('preClose', async () => shuttingDown.abort());
  app.get(
    '/admin/dead-letters',
    {
      schema: {
        ...admin,
        summary: 'Dead letters, newest failure first, a page at a time: `total` counts them all, `next` is the `before` of the next page (null on the last)',
        querystring: Type.Object(
          {
            subscription: Type.Optional(Subscription),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'at most this many (default 100)' })),
            before: Type.Optional(Type.String({ format: 'uuid', description: 'the id of the last letter of the page before (its `next`)' })),
          },
          { additionalProperties: false },
        ),
      },
      config: { docs: { errors: { ...FORBIDDEN, ...NO_SUCH_SUBSCRIPTION, 409: 'DEAD_LETTER_CURSOR_GONE: the letter `before` names is no longer there; start from the first page' } } },
    },
    async (request) => {
      authorize(request, 'admin');
      const { subscription, limit, before } = request.query;
      return listDeadLetterPage(pool, { ...(subscription === undefined ? {} : { subscription }), ...(limit === undefined ? {} : { limit }), ...(before === undefined ? {} : { before }) }).catch(
        subscriptionAt('querystring.subscription'),
      ).catch(inputAt('querystring'));
    },
  );
  app.get('/admin/dead-letters/:id', { schema: { ...admin, summary: 'One dead letter with its error, attempts and headers', params: IdParams }, config: { docs: { errors: LETTER_ERRORS } } }, async (request) => {
    authorize(request, 'admin');
    return showDeadLetter(pool, request.params.id);
  });
  app.post(
    '/admin/dead-letters/:id/redrive',
    {
      schema: { ...admin, summary: 'Send one dead letter back to its subscription', params: IdParams, body: NoFields },
      config: {
        docs: {
          errors: {
            ...LETTER_ERRORS,
            409:
              `${BUSY}; it cannot go back, and stays parked (each says what to do): SUBSCRIPTION_UNKNOWN, its subscription is gone (removed or renamed); ` +
              'SUBSCRIPTION_SUBJECT_MISMATCH, its subscription no longer takes its subject (`pattern` says what it takes); ' +
              'DEAD_LETTER_OTHER_TRANSPORT, parked by the other transport (NATS_URL set or not); ' +
              'DEAD_LETTER_UNDECODABLE, published onto the stream outside the platform, no handler can take it (fix the publisher, drop it)',
          },
        },
      },
      ...noFields,
    },
    async (request) => {
    authorize(request, 'admin');
    await showDeadLetter(pool, request.params.id); // 404 for an unknown id
    return redriveDeadLetters(pool, transport, { id: request.params.id });
    },
  );
  app.post(
    '/admin/dead-letters/redrive',
    {
      schema: {
        ...admin,
        summary:
          'Send every dead letter (of one subscription) back, at most `limit` in one request: the answer says how many went back, which could not (each with why and what to do), ' +
          'how many are `left`, and `next`, to send back as `after`, `until` and `parkedBy` (with the same subscription) for the next run, until it is null. ' +
          'No body (or {}) means every one, from the first. A run stops after the letter in flight when the client goes away or the server shuts down (the rest stay parked).',
        body: Type.Object(
          {
            subscription: Type.Optional(Subscription),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REDRIVE_LIMIT, description: `at most this many letters in this run (default ${DEFAULT_REDRIVE_LIMIT})` })),
            after: Type.Optional(Type.String({ format: 'uuid', description: "the last run's `next.after`: go on after the letters it took" })),
            until: Type.Optional(Type.String({ format: 'uuid', description: "the last run's `next.until`: only the letters there when the first run began" })),
            parkedBy: Type.Optional(Type.String({ format: 'date-time', description: "the last run's `next.parkedBy` (the database's time when the first run began): no letter parked since, such as one that failed again after going back" })),
          },
          { additionalProperties: false },
        ),
      },
      config: {
        docs: {
          errors: {
            ...FORBIDDEN,
            ...NO_SUCH_SUBSCRIPTION,
            503: 'REDRIVE_INTERRUPTED: the transport failed (the broker down); `redriven` went back, the rest stay parked: run it again once it answers',
          },
        },
      },
      // No body means all, as `{}` does: it was refused with 400 "body must be object".
      preValidation: absentBodyIsEmpty,
    },
    async (request, reply) => {
      authorize(request, 'admin');
      const { subscription, limit, after, until, parkedBy } = request.body;
      // The client gone (a proxy's timeout, a Ctrl+C of curl): the run stops after the letter in flight.
      // It went on to the end unseen, and a client that retried started a second run over the same
      // letters. (The response's close, not the request's: that one fires once the body is read.)
      const clientGone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) clientGone.abort();
      };
      reply.raw.once('close', onClose);
      try {
        // Those that could not go back stay, each with why, in `failed`; the others went.
        return await redriveDeadLetters(pool, transport, subscription === undefined ? { all: true } : { all: true, subscription }, {
          signal: AbortSignal.any([clientGone.signal, shuttingDown.signal]),
          ...(limit === undefined ? {} : { limit }),
          from: { ...(after === undefined ? {} : { after }), ...(until === undefined ? {} : { until }), ...(parkedBy === undefined ? {} : { parkedBy }) },
        })
          .catch(subscriptionAt('body.subscription'))
          .catch(inputAt('body'));
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );
  app.delete(
    '/admin/dead-letters/:id',
    { schema: { ...admin, summary: 'Drop a dead letter for good', params: IdParams, body: NoFields }, config: { docs: { success: { 204: 'Dropped' }, errors: { ...LETTER_ERRORS, 409: BUSY } } }, ...noFields },
    async (request, reply) => {
    authorize(request, 'admin');
    await dropDeadLetter(pool, request.params.id);
    return reply.status(204).send();
    },
  );
};
