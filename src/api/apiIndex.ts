import type { FastifyInstance, RouteOptions } from 'fastify';
import { Type, type Static } from 'typebox';

/** One operation as `GET /v1` lists it: its service, method, OpenAPI-style path and summary. */
export const IndexedOperation = Type.Object({
  service: Type.String({ description: 'The service that serves it (admin: the dead-letter store; health: the probes; index: this list)' }),
  method: Type.String(),
  path: Type.String({ description: 'OpenAPI style: /v1/orders/{id}' }),
  summary: Type.Optional(Type.String()),
});
export type IndexedOperation = Static<typeof IndexedOperation>;

/** The body of `GET /v1`. */
export const ApiIndex = Type.Object({
  name: Type.String(),
  version: Type.String(),
  links: Type.Object({
    docs: Type.String({ description: 'The API reference (Swagger UI)' }),
    openapi: Type.String({ description: 'The OpenAPI document (JSON)' }),
    health: Type.String({ description: 'Readiness: the database answers and migrations are current' }),
  }),
  operations: Type.Array(IndexedOperation, { description: 'Every operation of the OpenAPI document this process serves (this one and the probes too), by service, in registration order' }),
});

/**
 * Adds every documented route registered in `scope` (and the plugins inside it) to `into`, as
 * `service`'s: the list `GET /v1` answers. Hidden routes (`schema.hide`) and the HEAD twins Fastify
 * adds to GET routes are left out.
 */
export function collectOperations(scope: FastifyInstance, service: string, into: IndexedOperation[]): void {
  scope.addHook('onRoute', (route: RouteOptions) => {
    const schema = route.schema as { hide?: boolean; summary?: string } | undefined;
    if (schema?.hide === true) return;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || into.some((o) => o.method === method && o.path === path)) continue;
      into.push({ service, method, path, ...(schema?.summary === undefined ? {} : { summary: schema.summary }) });
    }
  });
}

/**
 * `GET /v1` (and `/v1/`), the API root: where the docs, the OpenAPI document and the readiness probe
 * are, and every operation `operations` holds once the app is ready. Register it inside the `/v1`
 * scope (in one of its own that {@link collectOperations} watches, for `GET /v1` to list itself).
 */
export function registerApiIndex(v1: FastifyInstance, operations: readonly IndexedOperation[]): void {
  const index = async (): Promise<Static<typeof ApiIndex>> => ({
    name: 'Brigade API',
    version: '1',
    links: { docs: '/docs', openapi: '/docs/json', health: '/health/ready' },
    operations: [...operations],
  });
  // Documented as /v1 (the empty path in the /v1 scope); /v1/ answers the same, undocumented.
  v1.get('', { schema: { tags: ['index'], summary: 'The API index: links to the docs and the OpenAPI document, and every operation by service', response: { 200: ApiIndex } } }, index);
  v1.route({ method: 'GET', url: '/', prefixTrailingSlash: 'slash', schema: { hide: true, response: { 200: ApiIndex } }, handler: index });
}
