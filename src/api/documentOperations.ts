import { STATUS_CODES } from 'node:http';
import type { RouteOptions } from 'fastify';
import { ProblemSchema } from './problem.ts';
import { absentBodyIsEmpty } from './requestInput.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the OpenAPI document says this route answers, beyond its schema (see {@link OperationDocs}). */
    docs?: OperationDocs;
  }
}

/**
 * What a route answers, as the OpenAPI document (`/docs/json`) shows it, for what its schema cannot
 * say without changing what is sent: Fastify serializes a reply with the route's response schema of
 * its status (a problem document would lose its order of members, a body its undeclared ones), so
 * these are read by {@link documentOperations} only, never by the serializer. Declared in the route's
 * `config.docs`.
 *
 * @example
 * app.post('/restaurants/:rid/menu/items', {
 *   schema: { ..., body: NewItem },
 *   config: { docs: { success: { 201: 'The new item' }, etag: true, errors: { 403: 'Not staff', 404: 'No such restaurant', 422: 'MENU_PARENT_…' } } },
 * }, handler);
 */
export interface OperationDocs {
  /**
   * The statuses it succeeds with, each with what it means, where they are not (only) its response
   * schema's 200: `{ 201: 'The new row' }`, `{ 204: 'Removed' }`, `{ 200: 'The menu', 304: 'Unchanged since If-None-Match' }`.
   */
  readonly success?: Readonly<Record<number, string>>;
  /** The media type of its success answers when not JSON (the board's stream: `text/event-stream`). */
  readonly produces?: string;
  /** Whether its success answers carry the version as `ETag`. */
  readonly etag?: boolean;
  /** Other headers its success answers carry, by name, with what each holds. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Headers its schema declares optional, for the route to answer their absence itself (a 400 that says
   * what to send), that a request needs all the same: documented as required.
   */
  readonly requiredHeaders?: readonly string[];
  /**
   * It takes `If-Match` with the version it acts on and refuses a request without one (428), with one
   * that is not a single version (400) and with a stale one (412 with the current version as ETag):
   * documented as a required header, with those answers.
   */
  readonly ifMatch?: boolean;
  /**
   * The problem statuses of its own, each with what it means here (`403`, `404`, `409`, `422`, …).
   * Those every route may answer (400, 401), those of a route with a body (413, 415) and those of
   * {@link OperationDocs.ifMatch} are added by {@link documentOperations}.
   */
  readonly errors?: Readonly<Record<number, string>>;
}

/** An OpenAPI document as far as {@link documentOperations} reads and writes it. */
interface OpenApiDocument {
  components?: { schemas?: Record<string, unknown>; [key: string]: unknown };
  paths?: Record<string, Record<string, Operation | undefined>>;
  [key: string]: unknown;
}

interface Operation {
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; [key: string]: unknown }>;
  requestBody?: { required?: boolean; [key: string]: unknown };
  responses?: Record<string, Response>;
  [key: string]: unknown;
}

interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, unknown>;
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const text = (description: string) => ({ description, schema: { type: 'string' } });

/** What every operation's 400 means: a route that answers 400 for a reason of its own too says this, then its own. */
export const INPUT_ERRORS = 'VALIDATION_FAILED (`field` names the input at fault), MALFORMED_JSON (a body that does not parse), FORBIDDEN_JSON_KEY (a body with a `__proto__` key or a `constructor` holding `prototype`; `field` says where), or another malformed request (BAD_URL, MISSING_HOST)';

/** What the problem statuses {@link documentOperations} adds on its own mean. */
const ERRORS = {
  400: INPUT_ERRORS,
  401: 'UNAUTHORIZED without a bearer token where one is needed; TOKEN_INVALID for a malformed or forged token and TOKEN_EXPIRED for an expired one, on any route; TOKEN_REVOKED for a token an admin revoked (POST /v1/admin/token-revocations), or a customer token whose customer was erased or changed or reset their password since',
  412: 'CONCURRENCY_CONFLICT: If-Match names a version that is no longer current; ETag carries the current one (read it again, then decide)',
  413: 'PAYLOAD_TOO_LARGE: the body is larger than the server takes (HTTP_BODY_LIMIT, 1 MiB by default); `limit` says how many bytes it takes',
  415: 'UNSUPPORTED_MEDIA_TYPE: a body that is not application/json, or one with a Content-Encoding other than identity',
  428: 'PRECONDITION_REQUIRED: no If-Match; read the resource first and send its ETag',
} as const;

/** Headers a problem status carries. */
const ERROR_HEADERS: Readonly<Record<number, Record<string, unknown>>> = {
  401: { 'WWW-Authenticate': text('Bearer (error="invalid_token" for a token that was refused)') },
  412: { ETag: text('The current version') },
};

const IF_MATCH = {
  name: 'if-match',
  in: 'header',
  required: true,
  description: 'The version this change was decided on, as the ETag of the last read gave it ("3"; 3 and W/"3" are taken too). Without it: 428; not one version: 400; stale: 412.',
  schema: { type: 'string' },
};

/** Statuses whose answer has no body. */
const NO_BODY = new Set(['204', '304']);

/**
 * Completes the OpenAPI document `@fastify/swagger` made from the route schemas (its `transformObject`),
 * with what each route's {@link OperationDocs} declares: its success statuses and their headers
 * (`ETag`, `Location`, …), its problem answers (`application/problem+json`, the shared
 * `components.schemas.Problem`), a required `If-Match` where the route refuses a request without one,
 * and `requestBody.required: false` where an absent body is taken as `{}` (`absentBodyIsEmpty`) and
 * the body has no required member. Every operation may answer 400 and 401; one with a body 413 and
 * 415. Reads `routes` (every route as registered, its schema, config and hooks); changes nothing a
 * route sends.
 */
export function documentOperations(document: OpenApiDocument, routes: readonly RouteOptions[]): OpenApiDocument {
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Problem: ProblemSchema } };
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of [route.method].flat()) {
      const operation = document.paths?.[path]?.[method.toLowerCase()];
      if (operation !== undefined) documentOperation(operation, route);
    }
  }
  return document;
}

function documentOperation(operation: Operation, route: RouteOptions): void {
  const docs: OperationDocs = route.config?.docs ?? {};
  const responses = (operation.responses ??= {});
  const placeholder = responses['200'];
  // @fastify/swagger's stand-in for a route without a response schema: an empty 200.
  const isPlaceholder = placeholder !== undefined && placeholder.content === undefined && placeholder.description === 'Default Response';
  if (isPlaceholder && docs.success !== undefined && !('200' in docs.success)) delete responses['200'];
  const success = docs.success ?? (isPlaceholder ? { 200: 'OK' } : {});
  for (const [status, description] of Object.entries(success)) {
    const declared = responses[status];
    const content = NO_BODY.has(status)
      ? undefined
      : (declared?.content ?? { [docs.produces ?? 'application/json']: { schema: docs.produces === undefined ? { type: 'object' } : { type: 'string' } } });
    responses[status] = { ...declared, description, ...(content === undefined ? {} : { content }) };
  }
  // @fastify/swagger's word for a response schema's status: its reason phrase says more.
  for (const [status, response] of Object.entries(responses)) if (response.description === 'Default Response') response.description = STATUS_CODES[Number(status)] ?? status;
  const headers = { ...(docs.etag === true ? { ETag: text('The version, to send back as If-Match') } : {}), ...Object.fromEntries(Object.entries(docs.headers ?? {}).map(([name, what]) => [name, text(what)])) };
  if (Object.keys(headers).length > 0) {
    for (const [status, response] of Object.entries(responses)) if (/^2\d\d$/.test(status) && status !== '204') response.headers = { ...response.headers, ...headers };
  }

  const required = new Set(docs.requiredHeaders?.map((name) => name.toLowerCase()));
  for (const parameter of operation.parameters ?? []) if (parameter.in === 'header' && required.has(parameter.name.toLowerCase())) parameter.required = true;
  if (docs.ifMatch === true) operation.parameters = [...(operation.parameters ?? []).filter((p) => !(p.in === 'header' && p.name.toLowerCase() === 'if-match')), IF_MATCH];
  if (operation.requestBody !== undefined && takesNoBody(route)) operation.requestBody.required = false;

  const errors: Record<number, string> = { 400: ERRORS[400], 401: ERRORS[401] };
  if (operation.requestBody !== undefined) Object.assign(errors, { 413: ERRORS[413], 415: ERRORS[415] });
  if (docs.ifMatch === true) Object.assign(errors, { 412: ERRORS[412], 428: ERRORS[428] });
  Object.assign(errors, docs.errors);
  for (const [status, description] of Object.entries(errors)) {
    responses[status] = {
      description,
      ...(ERROR_HEADERS[Number(status)] === undefined ? {} : { headers: ERROR_HEADERS[Number(status)] }),
      content: { 'application/problem+json': { schema: PROBLEM_REF } },
    };
  }
  operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** Whether the route takes a request without a body: it reads an absent body as `{}`, and its body schema requires nothing. */
function takesNoBody(route: RouteOptions): boolean {
  const hooks = [route.preValidation ?? []].flat();
  const body = route.schema?.body as { required?: readonly string[] } | undefined;
  return hooks.includes(absentBodyIsEmpty) && (body?.required ?? []).length === 0;
}
