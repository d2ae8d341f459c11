import { AjvCompiler } from '@fastify/ajv-compiler';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { Type } from 'typebox';
import { BrigadeError, ValidationError } from '../platform/errors/index.ts';
import { isUuid } from '../platform/ids/index.ts';
import { jsonBodyParser } from './jsonBodyParser.ts';

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
 * Every part, once valid, is also refused if it holds a number that is not finite ({@link nonFiniteNumberAt}):
 * `?limit=1e309` converts to Infinity, which the schema's `maximum` let through.
 *
 * @example
 * const app = Fastify({ schemaController: { compilersFactory: { buildValidator: requestValidators } } });
 */
export const requestValidators: BuildValidator = (externalSchemas) => {
  const build = AjvCompiler();
  const plugins = FORMATS as unknown as NonNullable<Parameters<typeof build>[1]>['plugins'];
  const asText = build(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' }, plugins });
  const asSent = build(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: false }, plugins });
  return (route) => finiteOnly(route.httpPart === 'body' ? asSent(route) : asText(route));
};

/** One error as ajv reports it, as far as the error handler reads it (`instancePath` names the field). */
interface AjvError {
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

/** A compiled ajv validator, as the compiler gives it. */
type Validate = ReturnType<ReturnType<BuildValidator>>;

/** A compiled ajv validator, as Fastify calls it: with `schemaEnv`, it passes the data's parent, so that a converted root can be replaced. */
type AjvValidate = ((data: unknown, context?: { parentData: Record<string, unknown>; parentDataProperty: string }) => unknown) & { errors?: AjvError[] | null };

/**
 * `validate` that also refuses data holding a number that is not finite, anywhere (400 naming it, as
 * any schema error). Ajv converts query-string text with `+text`, so `"1e309"`, `"-1e309"` and
 * `"Infinity"` became ±Infinity, and the number keywords (`minimum`, `maximum`) skip a number that is
 * not finite: `?limit=1e309` passed an `Integer({ maximum: 500 })` and reached the SQL (500). A JSON
 * body's `1e309` parses to Infinity as well; ajv's number types refuse it there, and this check refuses
 * it in a member the schema leaves untyped too. Runs after the schema, on the converted data.
 */
function finiteOnly(compiled: Validate): Validate {
  const validate = compiled as unknown as AjvValidate;
  const checked: AjvValidate = (data, context) => {
    const valid = validate(data, context);
    if (valid !== true) {
      checked.errors = validate.errors ?? null;
      return valid;
    }
    // A converted root is written to the parent (Fastify's request); members are converted in place.
    const at = nonFiniteNumberAt(context === undefined ? data : context.parentData[context.parentDataProperty]);
    if (at === null) {
      checked.errors = null;
      return true;
    }
    checked.errors = [{ instancePath: at, schemaPath: '#/finite', keyword: 'finite', params: {}, message: 'must be a finite number (not Infinity, NaN or beyond ±1.8e308); send one within the range /docs gives' }];
    return false;
  };
  // Fastify passes the parent (and so lets ajv replace a converted root) only to a validator with `schemaEnv`.
  return Object.assign(checked, { schema: compiled.schema, schemaEnv: compiled.schemaEnv }) as unknown as Validate;
}

/**
 * The JSON pointer (`/limit`, `/at/1`, `''` for the root) of the first number in `value` that is not
 * finite (±Infinity or NaN), at any depth; `null` when there is none.
 *
 * @example
 * nonFiniteNumberAt({ limit: Infinity }); // '/limit'
 */
export function nonFiniteNumberAt(value: unknown): string | null {
  // An explicit stack, as in unstorableTextAt: a deep body must not overflow the call stack.
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [current, at] = stack.pop()!;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return at;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    const entries = Object.entries(current);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      stack.push([inner, `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`]);
    }
  }
  return null;
}

/** U+0000, or half of a surrogate pair without its other half. */
// eslint-disable-next-line no-control-regex -- U+0000 is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The path of the first string (or object key) in `value` that holds text no database text can: U+0000
 * (PostgreSQL's text and jsonb refuse it with an error of their own, 22021 and 22P05), or a lone
 * surrogate (`"\ud800"` in JSON), which has no UTF-8 form and was stored as U+FFFD; `null` when none.
 */
export function unstorableTextAt(value: unknown, path: string): string | null {
  // An explicit stack, not recursion: a body nested thousands deep (a few KB) overflowed the call
  // stack here, before any schema or login check, and answered 500.
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [current, at] = stack.pop()!;
    if (typeof current === 'string') {
      if (UNSTORABLE.test(current)) return at;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    const entries = Object.entries(current);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      const inside = Array.isArray(current) ? `${at}[${key}]` : `${at}.${key}`;
      if (UNSTORABLE.test(key)) return inside;
      stack.push([inner, inside]);
    }
  }
  return null;
}

/** Every match of {@link UNSTORABLE}. */
const UNSTORABLES = new RegExp(UNSTORABLE.source, 'g');

/** `text` with each U+0000 and each lone surrogate written as its escape: the six characters `\u0000`, `\ud800`. */
const storableText = (text: string): string => text.replace(UNSTORABLES, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * A copy of `value` that a database's text and jsonb can hold, for what is kept about a request that
 * may have been refused for what {@link unstorableTextAt} finds (an admin's audit entry): in every string
 * and every object key, at any depth, U+0000 and each half of a surrogate pair without its other half
 * are written as their JSON escape in plain characters, a backslash, `u` and four hex digits
 * (`"a\u0000b"` becomes the eight characters `a\u0000b`), so the record still shows what was sent. Such
 * text is spelled the same as a client that sent those six characters; the request that held the real
 * one was refused with 400. Arrays and objects are copied as JSON writes them, own members in their
 * order (`__proto__` a member like any other) into a plain array or object; a value JSON writes by its
 * `toJSON` (a `Date`) and anything not an object (a number) are kept as they are.
 * `value` is left unchanged.
 *
 * @example
 * storableCopy({ query: { city: 'a\u0000b' } }); // { query: { city: 'a\\u0000b' } }
 */
export function storableCopy<T>(value: T): T {
  // An explicit stack, as in unstorableTextAt: each item is a value and the member of the copy it becomes.
  const root: Record<string, unknown> = {};
  const stack: Array<[unknown, object, string]> = [[value, root, 'value']];
  // Each object copied once: one met again has the same copy, so a cycle stays a cycle (which JSON then
  // refuses, as it did the original) instead of a walk that never ends.
  const copies = new Map<object, object>();
  while (stack.length > 0) {
    const [current, into, key] = stack.pop()!;
    let copy: unknown = current;
    if (typeof current === 'string') copy = storableText(current);
    else if (typeof current === 'object' && current !== null && copies.has(current)) copy = copies.get(current);
    else if (Array.isArray(current) || isMemberObject(current)) {
      const container: object = Array.isArray(current) ? new Array<unknown>(current.length) : {};
      copies.set(current, container);
      const entries = Object.entries(current);
      // Pushed last to first, so that the members are made, and an object's keys ordered, first to last.
      for (let i = entries.length - 1; i >= 0; i--) {
        const [name, inner] = entries[i]!;
        stack.push([inner, container, Array.isArray(current) ? name : storableText(name)]);
      }
      copy = container;
    }
    // Defined, not assigned: a `__proto__` member would otherwise set the copy's prototype.
    Object.defineProperty(into, key, { value: copy, enumerable: true, writable: true, configurable: true });
  }
  // The same shape: strings stay strings, only their text changes.
  return root.value as T;
}

/**
 * Whether `value` is an object that JSON writes as its own members: one without a `toJSON` (a `Date` has
 * one). Its prototype does not matter: a parsed query string is an object of the parser's own kind.
 */
function isMemberObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** A JSON schema as far as {@link lowerCaseUuids} reads it. */
interface SchemaShape {
  readonly format?: string;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly items?: unknown;
  readonly anyOf?: readonly unknown[];
  readonly oneOf?: readonly unknown[];
  readonly allOf?: readonly unknown[];
}

/**
 * `value` (already valid against `schema`) with every string the schema declares `format: 'uuid'` in
 * lower case, changed in place: `{"itemId": "19E6…"}` names the item `19e6…` is, for the menu's
 * lookup, the order's lines and the idempotency key's hash alike. Other strings are left as sent.
 */
export function lowerCaseUuids(schema: unknown, value: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return value;
  const shape = schema as SchemaShape;
  const branches = [...(shape.anyOf ?? []), ...(shape.oneOf ?? []), ...(shape.allOf ?? [])];
  if (typeof value === 'string') {
    const uuid = shape.format === 'uuid' || branches.some((b) => (b as SchemaShape | null)?.format === 'uuid');
    return uuid && isUuid(value) ? value.toLowerCase() : value;
  }
  if (Array.isArray(value)) {
    if (shape.items !== undefined) for (let i = 0; i < value.length; i++) value[i] = lowerCaseUuids(shape.items, value[i]);
  } else if (value !== null && typeof value === 'object') {
    const members = value as Record<string, unknown>;
    for (const [name, member] of Object.entries(shape.properties ?? {})) if (Object.hasOwn(members, name)) members[name] = lowerCaseUuids(member, members[name]);
  } else {
    return value;
  }
  for (const branch of branches) lowerCaseUuids(branch, value);
  return value;
}

/**
 * Checks and settles what every request brings before its route's schema sees it:
 * - a body, query string or path parameter holding U+0000 or a lone surrogate anywhere is refused with
 *   400 naming the field (before, PostgreSQL refused the one, and the client got a 500, and the other
 *   was stored as U+FFFD), as is a body that is not UTF-8;
 * - a path parameter that is a UUID is taken in its lower-case form, so `/restaurants/ABC…/menu` and
 *   `/restaurants/abc…/menu` are one restaurant everywhere: a cache key, a staff token's restaurant,
 *   a tenant (before, a menu cached under the upper-case spelling was never evicted by a write made
 *   under the lower-case one); once validated, so is every UUID of the body and the query string
 *   ({@link lowerCaseUuids});
 * - `application/json` is the only body type, and an empty one is no body; a `__proto__` or
 *   `constructor.prototype` key in it is a 400 `FORBIDDEN_JSON_KEY` naming where ({@link jsonBodyParser});
 * - a body with a `Content-Encoding` other than `identity` gets 415 with `Accept-Encoding: identity`.
 */
export function registerRequestInput(app: FastifyInstance): void {
  // JSON as Fastify parses it (a `__proto__` key refused, as FORBIDDEN_JSON_KEY), except that an empty
  // body is no body: a command without fields may come with `Content-Type: application/json` and nothing
  // else, as many clients send it. No text/plain parser: a body that is not JSON gets 415, not a schema error.
  const json = jsonBodyParser(app);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      // Decoded leniently, the bad bytes became U+FFFD and were stored so, with a 201.
      return done(new ValidationError('The body is not valid UTF-8; send JSON text encoded as UTF-8', { field: 'body' }), undefined);
    }
    return json(request, text, done);
  });
  // A compressed body is not decoded here: refused, as RFC 9110 §15.5.16 says, rather than read as if it
  // were not compressed (gzip was a 400 "not valid UTF-8", and JSON labelled gzip was taken as sent).
  app.addHook('preParsing', async (request, reply) => {
    if (!carriesBody(request) || isIdentity(request.headers['content-encoding'])) return;
    reply.header('accept-encoding', 'identity');
    throw new BrigadeError('UNSUPPORTED_MEDIA_TYPE', 415, 'Content-Encoding is not supported; send the body uncompressed (identity)', { details: { field: 'headers.content-encoding' } });
  });
  app.addHook('preHandler', async (request) => {
    const schema = request.routeOptions.schema;
    if (schema?.body !== undefined) request.body = lowerCaseUuids(schema.body, request.body);
    if (schema?.querystring !== undefined) request.query = lowerCaseUuids(schema.querystring, request.query);
  });
  app.addHook('preValidation', async (request) => {
    const at = unstorableTextAt(request.params, 'params') ?? unstorableTextAt(request.query, 'querystring') ?? unstorableTextAt(request.body, 'body');
    if (at !== null) throw new ValidationError(`${at} holds a NUL character (U+0000) or half a surrogate pair, which no text here can hold; remove it and send again`, { field: at });
    const params = request.params as Record<string, unknown> | null;
    if (params !== null && typeof params === 'object') {
      for (const [name, value] of Object.entries(params)) if (typeof value === 'string' && isUuid(value)) params[name] = value.toLowerCase();
    }
  });
}

/** Whether a request comes with a body: a length other than 0, or chunks. */
function carriesBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Whether a `Content-Encoding` header leaves the body as it is: absent, empty or only `identity`. */
function isIdentity(header: string | undefined): boolean {
  if (header === undefined) return true;
  return header.split(',').every((coding) => ['', 'identity'].includes(coding.trim().toLowerCase()));
}

/** The body of a command without fields: absent or `{}`; any field is refused with 400 (before, such routes took any body). */
export const NoFields = Type.Object({}, { additionalProperties: false });

/** A route's `preValidation` that takes an absent body as `{}`, so a command without fields may come without one. */
export async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body == null) request.body = {};
}
