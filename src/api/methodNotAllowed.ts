import type { FastifyInstance, RouteOptions } from 'fastify';

/** One route's path as segments: a literal, `:param` (any one segment, as the router takes it even empty) or `*` (the rest). */
type Matcher = (segments: readonly string[]) => boolean;

/**
 * The segments after the leading slash, empty ones kept: the router tells `/v1/tokens/` from
 * `/v1/tokens` (and `//` from `/`), so a path with a trailing slash matches only a route that
 * ends in one. Dropping them answered `GET /v1/tokens/` with 405 `Allow: POST`, and that POST was a 404.
 */
function segmentsOf(path: string): string[] {
  return path.split('/').slice(1);
}

function matcherOf(url: string): Matcher {
  const pattern = segmentsOf(url);
  return (segments) => {
    for (let i = 0; i < pattern.length; i++) {
      const part = pattern[i]!;
      if (part === '*') return true;
      const segment = segments[i];
      if (segment === undefined) return false;
      if (!part.startsWith(':') && part !== segment) return false;
    }
    return segments.length === pattern.length;
  };
}

/**
 * Collects every route registered on `app` from now on (its plugins' too) and returns what tells,
 * for a request no route took, the methods its path does take: for a 405 with `Allow` instead of a
 * 404 that says the path does not exist.
 *
 * @example
 * const allowedMethods = collectRouteMethods(app);
 * app.setNotFoundHandler((request, reply) => { const allow = allowedMethods(request.url); … });
 */
export function collectRouteMethods(app: FastifyInstance): (url: string) => string[] {
  const routes: Array<{ methods: readonly string[]; matches: Matcher }> = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    routes.push({ methods: ([] as string[]).concat(route.method), matches: matcherOf(route.url) });
  });
  return (url) => {
    const segments = segmentsOf(url.split('?')[0] ?? '').map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
    const methods = new Set<string>();
    for (const route of routes) if (route.matches(segments)) for (const method of route.methods) methods.add(method);
    return [...methods].sort();
  };
}
