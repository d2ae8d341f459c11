import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { documentOperations } from './documentOperations.ts';

/**
 * The headers of every answer under `/docs` (the page, its scripts and styles, the document): the
 * page is where people paste a token (its Authorize box), so no other origin frames it, runs a script
 * in it or receives what it sends. Swagger UI needs no inline script; its styles set some inline, and
 * its icons are `data:` images.
 */
export const DOCS_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * The API reference: the OpenAPI document at `/docs/json` (and `/docs/yaml`), made from the route
 * schemas and completed by each route's `config.docs` ({@link documentOperations}), and Swagger UI at
 * `/docs` with {@link DOCS_SECURITY_HEADERS}. Register it before any route: it sees the routes as they
 * are added.
 */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Brigade API',
        version: '1',
        description:
          'Food-delivery platform backend: tenants, menus, orders, delivery and payments. Every error is an `application/problem+json` document ' +
          '(`Problem`) with a stable `code`; besides the answers each operation lists, any may answer 500 (INTERNAL) or 503 (DATABASE_BUSY, DATABASE_UNAVAILABLE, TRANSACTION_CONFLICT, …; Retry-After says when to try again).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transformObject: (documentObject) => documentOperations('openapiObject' in documentObject ? (documentObject.openapiObject as Parameters<typeof documentOperations>[0]) : {}, routes),
  });
  await app.register(async (docs) => {
    docs.addHook('onRequest', async (_request, reply) => {
      reply.headers(DOCS_SECURITY_HEADERS);
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });
}
