import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';

/**
 * What every answer of the app carries unless its route sets its own: `nosniff` (a browser takes the
 * declared type, never guesses HTML from a JSON body), and `no-store` (no browser or proxy keeps a
 * copy: answers carry tokens, as `POST /v1/tokens` and `POST /v1/customers` do, and personal data, and
 * a page keeps its token in sessionStorage so that nothing outlives the tab). A route whose answer is
 * public and revalidated sets its own `Cache-Control`, which replaces this one: the menu's `no-cache`
 * (ETag, 304 on `If-None-Match`). ETags still travel with `no-store`: `If-Match` is sent by the
 * client from the ETag it read, not by a cache.
 *
 * Set on the reply at `onRequest` (and on answers refused before routing), so that the not-found
 * handler (404, 405), the error handler and every route's answer have them, and a route's own
 * `reply.header(…)` wins.
 */
export const DEFAULT_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/**
 * The headers for a reply a route has taken over (`reply.hijack()`) and writes with `writeHead`,
 * which Fastify's headers never reach: those set on the reply so far (`x-request-id` and
 * {@link DEFAULT_RESPONSE_HEADERS}), then the route's `own`, which win.
 *
 * @example
 * reply.hijack();
 * reply.raw.writeHead(200, hijackedHeaders(reply, { 'content-type': 'text/event-stream; charset=utf-8' }));
 */
export function hijackedHeaders(reply: FastifyReply, own: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  return { ...headers, ...own };
}
