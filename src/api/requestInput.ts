import { AjvCompiler } from '@fastify/ajv-compiler';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { Type } from 'typebox';
import { ValidationError } from '../platform/errors/index.ts';
import { isUuid } from '../platform/ids/index.ts';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type BuildValidator = NonNullable<NonNullable<SchemaController['compilersFactory']>['buildValidator']>;

/** What every request part is validated with; only `coerceTypes` differs between them. */
const AJV_OPTIONS = { removeAdditional: false, allErrors: false } as const;

/**
 * The formats of every schema: ajv-formats, with `uuid` narrowed to the canonical text (either case)
 * that PostgreSQL's `uuid` takes from the platform's ids. ajv-formats' own `uuid` also takes
 * `urn:uuid:…`, which reached the database and failed there (500).
 */
const FORMATS = [addFormats, (ajv: { addFormat(name: string, format: { type: 'string'; validate: (value: string) => boolean }): unknown }) => ajv.addFormat('uuid', { type: 'string', validate: isUuid })];

/**
 * Fastify's validators for Brigade's requests: query strings, path parameters and headers arrive as
 * text, so their values are converted to the schema's types (`"20"` → 20, one value → an array);
 * a JSON body is taken as sent. Converting bodies too turned `{"price": null}` into a price of 0 and
 * `{"available": 0}` into `false` instead of answering 400 (DESIGN.md, "What bad input gets").
 *
 * @example
 * const app = Fastify({ schemaController: { compilersFactory: { buildValidator: requestValidators } } });
 */
export const requestValidators: BuildValidator = (externalSchemas) => {
  const build = AjvCompiler();
  const plugins = FORMATS as unknown as NonNullable<Parameters<typeof build>[1]>['plugins'];
  const asText = build(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' }, plugins });
  const asSent = build(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: false }, plugins });
  return (route) => (route.httpPart === 'body' ? asSent(route) : asText(route));
};

/**
 * The path of the first string (or object key) in `value` that holds U+0000, or `null`. PostgreSQL's
 * text and jsonb cannot hold that character and refuse it with an error of their own (22021, 22P05).
 */
export function nulCharacterAt(value: unknown, path: string): string | null {
  // An explicit stack, not recursion: a body nested thousands deep (a few KB) overflowed the call
  // stack here, before any schema or login check, and answered 500.
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [current, at] = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return at;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    const entries = Object.entries(current);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      const inside = Array.isArray(current) ? `${at}[${key}]` : `${at}.${key}`;
      if (key.includes('\u0000')) return inside;
      stack.push([inner, inside]);
    }
  }
  return null;
}

/**
 * Checks and settles what every request brings before its route's schema sees it:
 * - a body, query string or path parameter holding U+0000 anywhere is refused with 400 naming the
 *   field (before, it reached PostgreSQL, which refused it, and the client got a 500);
 * - a path parameter that is a UUID is taken in its lower-case form, so `/restaurants/ABC…/menu` and
 *   `/restaurants/abc…/menu` are one restaurant everywhere: a cache key, a staff token's restaurant,
 *   a tenant (before, a menu cached under the upper-case spelling was never evicted by a write made
 *   under the lower-case one).
 */
export function registerRequestInput(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const at = nulCharacterAt(request.params, 'params') ?? nulCharacterAt(request.query, 'querystring') ?? nulCharacterAt(request.body, 'body');
    if (at !== null) throw new ValidationError(`${at} holds a NUL character (U+0000), which no text here can hold; remove it and send again`, { field: at });
    const params = request.params as Record<string, unknown> | null;
    if (params !== null && typeof params === 'object') {
      for (const [name, value] of Object.entries(params)) if (typeof value === 'string' && isUuid(value)) params[name] = value.toLowerCase();
    }
  });
}

/** The body of a command without fields: absent or `{}`; any field is refused with 400 (before, such routes took any body). */
export const NoFields = Type.Object({}, { additionalProperties: false });

/** A route's `preValidation` that takes an absent body as `{}`, so a command without fields may come without one. */
export async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body == null) request.body = {};
}
