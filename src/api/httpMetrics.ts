import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import client from 'prom-client';

/** Counts one answered request that no hook saw, under the route `unmatched`. */
export type CountUnrouted = (request: FastifyRequest, reply: FastifyReply) => void;

/** Counts one request Node's HTTP parser refused (no method or route known), by the status it was answered with. */
export type CountUnparsed = (status: number) => void;

/**
 * Per-route request counts (by status), 5xx errors and latency histograms, labelled with the route
 * pattern (`/v1/orders/:id`), never the raw URL, so the label set stays bounded. A request no route
 * took is `unmatched`. Returns what counts, in the same series, the requests Fastify answers before
 * routing without running hooks (its `frameworkErrors`: a URL with a broken %-escape, say), and those
 * Node's parser refused before Fastify saw them (method `unknown`, route `unparsed`: headers too large,
 * a request that timed out, bytes that are not HTTP).
 */
export function registerHttpMetrics(app: FastifyInstance, registry: client.Registry): { readonly countUnrouted: CountUnrouted; readonly countUnparsed: CountUnparsed } {
  const requests = new client.Counter({
    name: 'brigade_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const errors = new client.Counter({
    name: 'brigade_http_request_errors_total',
    help: 'HTTP requests answered with a 5xx status, by method and route',
    labelNames: ['method', 'route'] as const,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'brigade_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const count = (request: FastifyRequest, reply: FastifyReply, route: string) => {
    const labels = { method: request.method, route };
    requests.inc({ ...labels, status: String(reply.statusCode) });
    if (reply.statusCode >= 500) errors.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  };
  app.addHook('onResponse', async (request, reply) => count(request, reply, request.routeOptions.url ?? 'unmatched'));
  return {
    countUnrouted: (request, reply) => {
      if (reply.raw.writableFinished) count(request, reply, 'unmatched');
      else reply.raw.once('finish', () => count(request, reply, 'unmatched'));
    },
    countUnparsed: (status) => requests.inc({ method: 'unknown', route: 'unparsed', status: String(status) }),
  };
}
