import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { documentOperations } from './documentOperations.ts';

/**
 * The API reference: the OpenAPI document at `/docs/json` (and `/docs/yaml`), made from the route
 * schemas and completed by each route's `config.docs` ({@link documentOperations}), and Swagger UI at
 * `/docs`. Register it before any route: it sees the routes as they
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
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
