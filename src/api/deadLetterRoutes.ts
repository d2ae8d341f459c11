import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { Type } from 'typebox';
import { dropDeadLetter, listDeadLetterPage, NoSuchSubscriptionError, redriveDeadLetters, showDeadLetter, type Transport } from '../platform/messaging/index.ts';
import { authorize } from './auth.ts';
import { INPUT_ERRORS } from './documentOperations.ts';
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
 * all, drop. Every call is audited like any admin request.
 */
export const deadLetterRoutes: FastifyPluginAsync<DeadLetterRoutesOptions> = async (plugin, { pool, transport }) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
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
      );
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
        summary: 'Send every dead letter (of one subscription) back; no body (or {}) means every one',
        body: Type.Object({ subscription: Type.Optional(Subscription) }, { additionalProperties: false }),
      },
      config: { docs: { errors: { ...FORBIDDEN, ...NO_SUCH_SUBSCRIPTION } } },
      // No body means all, as `{}` does: it was refused with 400 "body must be object".
      preValidation: absentBodyIsEmpty,
    },
    async (request) => {
      authorize(request, 'admin');
      const subscription = request.body.subscription;
      // Those that could not go back stay, each with why, in `failed`; the others went.
      return redriveDeadLetters(pool, transport, subscription === undefined ? { all: true } : { all: true, subscription }).catch(subscriptionAt('body.subscription'));
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
