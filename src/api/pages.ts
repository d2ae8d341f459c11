import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Role } from '../platform/auth/index.ts';
import { ValidationError } from '../platform/errors/index.ts';
import { isUuid } from '../platform/ids/index.ts';

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
   */
  readonly devLogin: boolean;
  /** Mints a token for the development login (e.g. `deps.tokens.sign`); required when `devLogin`. */
  readonly mintToken?: (request: DevTokenRequest) => Promise<string>;
  /** The folder holding the pages. Default: the repository's `web/`. */
  readonly root?: string;
}

/** The pages: URL path → file in `web/`. The page's script reads its ids from `location`. */
const PAGES: ReadonlyArray<{ readonly url: string; readonly file: string; readonly devOnly?: boolean }> = [
  { url: '/login', file: 'login.html' },
  { url: '/dev-login', file: 'dev-login.html', devOnly: true },
  { url: '/board/:rid', file: 'board.html' },
  { url: '/courier', file: 'courier.html' },
  { url: '/track/:orderId', file: 'track.html' },
];

/** The static assets, an allow-list: nothing else under `web/` is reachable. */
const ASSETS: Readonly<Record<string, string>> = {
  'app.css': 'text/css; charset=utf-8',
  'common.js': 'text/javascript; charset=utf-8',
  'board.js': 'text/javascript; charset=utf-8',
  'courier.js': 'text/javascript; charset=utf-8',
  'track.js': 'text/javascript; charset=utf-8',
  'login.js': 'text/javascript; charset=utf-8',
  'dev-login.js': 'text/javascript; charset=utf-8',
};

// The pages load and call nothing but the platform itself: the browser enforces it.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const Uuid = Type.String({ format: 'uuid' });

/**
 * Serves the web pages (restaurant live-board, courier task list, customer tracking, sign-in) and
 * their assets from `web/`: plain HTML, one ES module per page and one CSS file, no build step. The
 * files are read once at registration. The pages call the `/v1` API with the token kept in
 * sessionStorage. With `devLogin`, it adds the development login and the route that mints its tokens.
 *
 * @example
 * await app.register(pagesPlugin, { devLogin: config.databaseUrl === null, mintToken: (r) => tokens.sign(r) });
 */
export const pagesPlugin: FastifyPluginAsync<PagesOptions> = async (app, options) => {
  const root = options.root ?? path.resolve(import.meta.dirname, '..', '..', 'web');
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const send = (reply: FastifyReply, type: string, body: Buffer) => reply.headers(SECURITY_HEADERS).type(type).send(body);
  const hide = { hide: true };

  for (const page of PAGES) {
    if (page.devOnly === true && !options.devLogin) continue;
    const body = await readFile(path.join(root, page.file));
    typed.get(page.url, { schema: hide }, async (_request, reply) => send(reply, 'text/html; charset=utf-8', body));
  }
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS)) {
    if (name === 'dev-login.js' && !options.devLogin) continue;
    assets.set(name, await readFile(path.join(root, name)));
  }
  typed.get('/web/:file', { schema: { ...hide, params: Type.Object({ file: Type.String({ maxLength: 64 }) }) } }, async (request, reply) => {
    const body = assets.get(request.params.file);
    const type = ASSETS[request.params.file];
    if (body === undefined || type === undefined) return reply.callNotFound();
    return send(reply, type, body);
  });
  typed.get('/', { schema: hide }, async (_request, reply) => reply.redirect('/login'));

  if (!options.devLogin) return;
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
      const { role, restaurantId, subject } = request.body;
      if (role === 'staff' && restaurantId === undefined) throw new ValidationError('A staff token needs the restaurant id', { field: 'restaurantId' });
      // Customers and couriers act as themselves: their subject must be their UUID.
      if ((role === 'customer' || role === 'courier') && subject !== undefined && !isUuid(subject)) {
        throw new ValidationError(`A ${role}'s subject is their id (a UUID)`, { field: 'subject' });
      }
      const principal: DevTokenRequest = { role, subject: subject ?? (role === 'admin' ? 'dev-admin' : randomUUID()), ...(role === 'staff' ? { restaurantId } : {}) };
      return reply.status(201).headers({ 'cache-control': 'no-store' }).send({ token: await mint(principal), ...principal });
    },
  );
};
