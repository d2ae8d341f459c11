import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Role } from '../platform/auth/index.ts';
import { ValidationError } from '../platform/errors/index.ts';
import { isUuid } from '../platform/ids/index.ts';
import { DevLoginHostError, DevLoginProxiedError, forwardedBy, isLoopbackHost } from './devLoginHost.ts';
import { ifNoneMatchHits } from './ifNoneMatch.ts';

/** What the development login may ask a token for. */
export interface DevTokenRequest {
  readonly role: Role;
  readonly subject: string;
  readonly restaurantId?: string;
}

/** Options of {@link pagesPlugin}. */
export interface PagesOptions {
  /**
   * Serve the development login (`GET /dev-login`, `POST /dev/tokens`), which mints a token for any
   * role without a password. Only when the platform runs on the embedded database: never in production.
   * Its token route answers only requests whose `Host` is loopback (403 `DEV_LOGIN_HOST_REFUSED`).
   */
  readonly devLogin: boolean;
  /**
   * Mints a token for the development login; required when `devLogin`. The platform's passes
   * `mintToken` of the platform service, which refuses a staff token of a restaurant the directory
   * does not know (404 `NOT_FOUND`), as `POST /v1/tokens` does.
   */
  readonly mintToken?: (request: DevTokenRequest) => Promise<string>;
  /**
   * The services this process serves (`brigade serve --service NAME` serves one): a page whose API
   * calls need a service that is not among them is not served. Default: every page.
   */
  readonly services?: readonly string[];
  /** The folder holding the pages. Default: the repository's `web/`. */
  readonly root?: string;
}

/** A web page: where it is, what it is shown as, its file in `web/` and its script, and the services its API calls need. */
export interface Page {
  readonly url: string;
  /** The URL as people read it, ids as placeholders: `/board/<restaurant id>`. */
  readonly shown: string;
  readonly file: string;
  readonly script: string;
  readonly services: readonly string[];
  /** The development login: only with {@link PagesOptions.devLogin}. */
  readonly devOnly?: boolean;
}

/** The pages: URL path → file in `web/`. The page's script reads its ids from `location`. */
const PAGES: readonly Page[] = [
  // Sign-in lists a customer's orders (ordering) and leads to the other pages.
  { url: '/login', shown: '/login', file: 'login.html', script: 'login.js', services: ['ordering'] },
  // Registers couriers and customers (platform), then leads to the pages.
  { url: '/dev-login', shown: '/dev-login', file: 'dev-login.html', script: 'dev-login.js', services: ['platform', 'ordering'], devOnly: true },
  // Orders and their commands (ordering). Its courier picker reads delivery's couriers of the city, but
  // without delivery the board says couriers cannot be assigned here and is otherwise whole: a process
  // serving ordering alone still serves the restaurant its orders.
  { url: '/board/:rid', shown: '/board/<restaurant id>', file: 'board.html', script: 'board.js', services: ['ordering'] },
  // Availability (delivery), tasks and pick-up/delivered (ordering).
  { url: '/courier', shown: '/courier', file: 'courier.html', script: 'courier.js', services: ['delivery', 'ordering'] },
  { url: '/track/:orderId', shown: '/track/<order id>', file: 'track.html', script: 'track.js', services: ['ordering'] },
];

/**
 * The pages a platform with these options serves: the development login only with `devLogin`, and
 * only the pages whose API calls it serves (every one without `services`). What `brigade start` and
 * `brigade serve` print is this list.
 */
export function servedPages(options: Pick<PagesOptions, 'devLogin' | 'services'>): readonly Page[] {
  const served = options.services;
  return PAGES.filter((page) => (page.devOnly !== true || options.devLogin) && (served === undefined || page.services.every((s) => served.includes(s))));
}

/** The assets every page shares; besides them, each served page's own script. Nothing else under `web/` is reachable. */
const SHARED_ASSETS: Readonly<Record<string, string>> = {
  'app.css': 'text/css; charset=utf-8',
  'common.js': 'text/javascript; charset=utf-8',
};
const SCRIPT = 'text/javascript; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

// The pages load and call nothing but the platform itself: the browser enforces it. A page that a
// page of another site opened (`window.open`, a link with a target) gets no handle on that site's
// window, nor that site on the page's (`same-origin`): the token lives in the page's sessionStorage.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
/**
 * A page is not kept (`no-store`): not on disk, and not in the browser's back-forward cache, from which
 * Back after "Sign out" showed it again as it was left (a courier's customer address, a board's cards).
 * Its assets hold nothing of anyone: a browser may keep them, and asks each time whether they changed
 * (`no-cache` with the asset's ETag, answered 304 while it has not).
 */
const PAGE_CACHE = { 'cache-control': 'no-store' };
const ASSET_CACHE = { 'cache-control': 'no-cache' };

/** Sends a page (or an asset) with the pages' headers: their security policy, and the cache policy of its kind. */
const send = (reply: FastifyReply, type: string, body: Buffer | string) => reply.headers(SECURITY_HEADERS).headers(type === HTML ? PAGE_CACHE : ASSET_CACHE).type(type).send(body);

/** The API's own paths: an unknown one is answered with problem JSON, whatever the client accepts. */
const API_PATHS = /^\/(?:v1|health|docs|metrics|dev|web)(?:[/?]|$)/;

/**
 * Whether an unknown address is asked for by a browser that is shown a page, not an API client: a GET
 * or HEAD outside the API's paths whose `Accept` names `text/html` (a browser's navigation does; `fetch`
 * and curl send `*\/*` and keep the API's problem JSON).
 */
export function asksForPage(request: Pick<FastifyRequest, 'method' | 'url' | 'headers'>): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (API_PATHS.test(request.url)) return false;
  const accept = request.headers.accept;
  return typeof accept === 'string' && /(?:^|,)\s*text\/html\s*(?:[;,]|$)/i.test(accept);
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Answers an address that is no page (a mistyped or outdated link: `/bord/…`, `/tracking/…`) with a 404
 * page that says so and lists the pages this process serves, with the API's docs, under the pages' own
 * headers. It was the API's problem JSON (`ROUTE_NOT_FOUND`, "see /docs for the API"), shown raw by the
 * browser to a courier or a customer. The address is shown as asked (escaped), without its query.
 *
 * @example
 * app.setNotFoundHandler((request, reply) => (asksForPage(request) ? sendPageNotFound(reply, options, request.url) : sendProblem(…)));
 */
export function sendPageNotFound(reply: FastifyReply, options: Pick<PagesOptions, 'devLogin' | 'services'>, url: string): FastifyReply {
  const pages = servedPages(options).filter((page) => page.devOnly !== true);
  let asked = url.split('?')[0] ?? url;
  try {
    asked = decodeURI(asked);
  } catch {
    // Shown as it came.
  }
  const links = pages.map((page) => (page.shown === page.url ? `<li><a href="${page.url}">${page.url}</a></li>` : `<li><code>${escapeHtml(page.shown)}</code></li>`));
  const start = pages.some((page) => page.url === '/login') ? '<a href="/login">Sign in</a> to reach your page, or open the link you were given again.' : 'This process serves no page to sign in with.';
  const body = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>No such page · Brigade</title>
  <link rel="stylesheet" href="/web/app.css">
</head>
<body>
  <header class="bar"><h1>Brigade · no such page</h1></header>
  <main>
    <p class="message error" role="alert">There is no page at <code>${escapeHtml(asked.slice(0, 200))}</code>: the address may be mistyped or out of date.</p>
    <p>${start}</p>
    ${links.length > 0 ? `<p>The pages are:</p>\n    <ul>${links.join('')}</ul>` : ''}
    <p>Looking for the API? Its documentation is at <a href="/docs">/docs</a>.</p>
  </main>
</body>
</html>
`;
  return send(reply.status(404), HTML, body);
}

const Uuid = Type.String({ format: 'uuid' });

/** A file under `/web/`, read once at registration: its type, its bytes and its entity tag. */
interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** Strong: the sha256 of the bytes (base64url), quoted. A deployment with other files has other tags. */
  readonly etag: string;
}

const assetOf = (type: string, body: Buffer): Asset => ({ type, body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` });

/**
 * Serves the web pages (restaurant live-board, courier task list, customer tracking, sign-in) and
 * their assets from `web/`: plain HTML, one ES module per page and one CSS file, no build step. The
 * files are read once at registration. The pages call the `/v1` API with the token kept in
 * sessionStorage. With `devLogin`, it adds the development login and the route that mints its tokens.
 * With `services`, only the pages whose API calls those services serve (none for menu alone).
 *
 * @example
 * await app.register(pagesPlugin, { devLogin: config.databaseUrl === null, mintToken: (r) => tokens.sign(r) });
 */
export const pagesPlugin: FastifyPluginAsync<PagesOptions> = async (app, options) => {
  const root = options.root ?? path.resolve(import.meta.dirname, '..', '..', 'web');
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const sendAsset = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply.header('etag', asset.etag);
    if (ifNoneMatchHits(request.headers['if-none-match'], asset.etag)) return reply.headers(SECURITY_HEADERS).headers(ASSET_CACHE).status(304).send();
    return send(reply, asset.type, asset.body);
  };
  const hide = { hide: true };

  const pages = servedPages(options);
  // The root leads people to sign-in, or to the API docs where no page is served.
  const home = pages.some((page) => page.url === '/login') ? '/login' : '/docs';
  typed.get('/', { schema: hide }, async (_request, reply) => reply.redirect(home));
  if (pages.length === 0) return;
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(SHARED_ASSETS)) assets.set(name, assetOf(type, await readFile(path.join(root, name))));
  for (const page of pages) {
    const body = await readFile(path.join(root, page.file));
    typed.get(page.url, { schema: hide }, async (_request, reply) => send(reply, HTML, body));
    assets.set(page.script, assetOf(SCRIPT, await readFile(path.join(root, page.script))));
  }
  typed.get('/web/:file', { schema: { ...hide, params: Type.Object({ file: Type.String({ maxLength: 64 }) }) } }, async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (asset === undefined) return reply.callNotFound();
    return sendAsset(request, reply, asset);
  });

  if (!pages.some((page) => page.devOnly === true)) return;
  const mint = options.mintToken;
  if (mint === undefined) throw new Error('pagesPlugin: devLogin needs a mintToken function');
  typed.post(
    '/dev/tokens',
    {
      schema: {
        hide: true,
        body: Type.Object(
          {
            role: Type.Union([Type.Literal('staff'), Type.Literal('courier'), Type.Literal('customer'), Type.Literal('admin')]),
            restaurantId: Type.Optional(Uuid),
            subject: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      // Loopback binding is not enough: a page whose own name resolves to 127.0.0.1 (DNS rebinding)
      // calls this route as same-origin from the developer's browser, its name in Host.
      if (!isLoopbackHost(request.headers.host ?? '')) throw new DevLoginHostError(request.headers.host);
      // Nor is a loopback Host: a reverse proxy on this machine sends its own; its forwarding headers tell.
      const proxied = forwardedBy(request.headers);
      if (proxied !== undefined) throw new DevLoginProxiedError(proxied);
      const { role, restaurantId, subject } = request.body;
      if (role === 'staff' && restaurantId === undefined) throw new ValidationError('A staff token needs the restaurant id', { field: 'body.restaurantId' });
      // Customers and couriers act as themselves: their subject must be their UUID.
      if ((role === 'customer' || role === 'courier') && subject !== undefined && !isUuid(subject)) {
        throw new ValidationError(`A ${role}'s subject is their id (a UUID)`, { field: 'body.subject' });
      }
      const principal: DevTokenRequest = { role, subject: subject ?? (role === 'admin' ? 'dev-admin' : randomUUID()), ...(role === 'staff' ? { restaurantId } : {}) };
      return reply.status(201).headers({ 'cache-control': 'no-store' }).send({ token: await mint(principal), ...principal });
    },
  );
};
