import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { asTransactionConflict } from '../platform/db/index.ts';
import { BrigadeError, ConcurrencyError } from '../platform/errors/index.ts';
import { DESCRIPTION_TEXT, DESCRIPTION_TEXT_RULE, DISPLAY_NAME, DISPLAY_NAME_OR_EMPTY, DISPLAY_NAME_OR_EMPTY_RULE, DISPLAY_NAME_RULE } from './displayName.ts';
import { etagOf } from './ifMatch.ts';
import { EMAIL_ADDRESS, EMAIL_ADDRESS_RULE, GLOBAL_POSITION, GLOBAL_POSITION_RULE } from './textPatterns.ts';

/** An RFC 9457 problem document, with Brigade's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance: string;
  requestId: string;
  [extra: string]: unknown;
}

/**
 * {@link Problem} as JSON Schema: what every error answer's `application/problem+json` body holds, as
 * the OpenAPI document shows it (`components.schemas.Problem`). For the document only: no route
 * serializes with it (the members of a problem keep the order {@link problemAt} gives them).
 */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'https://brigade.dev/problems/<code, in lower case with dashes>' }),
    title: Type.String({ description: "The status's reason phrase" }),
    status: Type.Integer({ description: 'The HTTP status' }),
    code: Type.String({ description: 'The stable code a client branches on: VALIDATION_FAILED, NOT_FOUND, CONCURRENCY_CONFLICT, …' }),
    detail: Type.String({ description: 'What went wrong and what to do, for a person' }),
    instance: Type.String({ description: 'The path (and query) of the request' }),
    requestId: Type.String({ description: 'The X-Request-Id of the request, also in every log line about it' }),
    field: Type.Optional(
      Type.String({
        description:
          'The input at fault, when one is: where the request carried it and its name (body.name, body.lines.0, querystring.before, params.id), or a header\'s name (If-Match, Idempotency-Key); every error names its input so, the schema\'s and the routes\' alike',
      }),
    ),
  },
  { additionalProperties: true, description: 'An RFC 9457 problem document with a stable `code`; other members carry the details of its error (currentVersion on a 412, allow on a 405, …)' },
);

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout',
  409: 'Conflict', 412: 'Precondition Failed', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  428: 'Precondition Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Patterns whose regular expression says nothing to a client, by what to say instead (after the field's
 * name): a name with a space at its end got `must match pattern "^[^\x00-…"` (some 200 characters), as
 * did a sign-up's e-mail address, and `?after=abc` on a view the position's pattern, nothing saying it is
 * a write's `position`. A pattern not here is shown as the validator gives it (`^[A-Z]{3}$` reads well enough).
 */
const PATTERN_RULES: ReadonlyMap<string, string> = new Map([
  [DISPLAY_NAME, DISPLAY_NAME_RULE],
  [DISPLAY_NAME_OR_EMPTY, DISPLAY_NAME_OR_EMPTY_RULE],
  [DESCRIPTION_TEXT, DESCRIPTION_TEXT_RULE],
  [EMAIL_ADDRESS, EMAIL_ADDRESS_RULE],
  [GLOBAL_POSITION, GLOBAL_POSITION_RULE],
]);

/** One error of the validator (ajv's), as much of it as {@link allowedValuesOf} reads. */
interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Record<string, unknown>;
}

/**
 * The values a choice between fixed values allows at `instancePath`, when that is what failed there: a
 * union of literals (`anyOf` of `const`, each branch refused by its `const` or its `type`) or an `enum`.
 * Ajv's own message for the first is "must be equal to constant", the value of one branch, unnamed.
 *
 * @example
 * // POST /v1/tokens {"role":"root"} → "body.role must be one of: admin, staff, courier, customer"
 */
function allowedValuesOf(errors: readonly SchemaError[], instancePath: string): string[] | undefined {
  const here = errors.filter((e) => e.instancePath === instancePath);
  const enumError = here.find((e) => e.keyword === 'enum');
  if (enumError !== undefined && Array.isArray(enumError.params.allowedValues)) return enumError.params.allowedValues.map(String);
  const anyOf = here.find((e) => e.keyword === 'anyOf');
  if (anyOf === undefined) return undefined;
  const branches = new Map<string, unknown[]>();
  for (const e of here) {
    if (e === anyOf) continue;
    const branch = e.schemaPath.startsWith(`${anyOf.schemaPath}/`) ? /^(\d+)\/(const|type)$/.exec(e.schemaPath.slice(anyOf.schemaPath.length + 1)) : null;
    if (branch === null) return undefined; // a branch that is more than a literal: ajv's message stands
    const values = branches.get(branch[1]!) ?? [];
    if (e.keyword === 'const') values.push(e.params.allowedValue);
    branches.set(branch[1]!, values);
  }
  const values = [...branches.values()];
  return values.length > 0 && values.every((v) => v.length === 1) ? values.map((v) => String(v[0])) : undefined;
}

/** The stable code of a 4xx that came without one of Brigade's, from its status (RFC 9110's reason phrase). */
const CODES_OF_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 406: 'NOT_ACCEPTABLE', 408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT', 411: 'LENGTH_REQUIRED', 412: 'PRECONDITION_FAILED', 413: 'PAYLOAD_TOO_LARGE', 414: 'URI_TOO_LONG', 415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE', 422: 'UNPROCESSABLE_CONTENT', 428: 'PRECONDITION_REQUIRED', 429: 'TOO_MANY_REQUESTS', 431: 'HEADERS_TOO_LARGE',
};

/** {@link CODES_OF_STATUS}, and `CLIENT_ERROR` for a 4xx it does not name. */
function codeOfStatus(status: number): string {
  return CODES_OF_STATUS[status] ?? 'CLIENT_ERROR';
}

/**
 * Sends `application/problem+json`. `extra` (an error's details) adds members; it cannot replace the
 * standard ones (`status` stays the HTTP status, `code` the error's code).
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  return reply.status(status).type('application/problem+json').send(problemDocument(request, status, code, detail, extra));
}

/** The problem document {@link sendProblem} sends, for a hook that must return a payload instead. */
export function problemDocument(request: FastifyRequest, status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return problemAt(request.url, String(request.id), status, code, detail, extra);
}

/** The problem document for a request known only by its URL and id (or by neither, before Node parsed it). */
export function problemAt(instance: string, requestId: string, status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return {
    ...extra,
    type: `https://brigade.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? STATUS_CODES[status] ?? 'Error',
    status,
    code,
    detail,
    instance,
    requestId,
  };
}

/**
 * Maps every error to a problem document: Brigade's own errors keep their code and status (one whose
 * `details.retryAfterSeconds` is a number, such as `DATABASE_BUSY` and `DATABASE_UNAVAILABLE`, also sets `Retry-After`;
 * a 412 `CONCURRENCY_CONFLICT` with a numeric `details.currentVersion` sets `ETag`);
 * Fastify's validation, body-size (with the `limit` in bytes) and parse errors get stable codes, and any other 4xx (a plugin's, or
 * one of Fastify's `FST_ERR_*`) the code of its status (403 `FORBIDDEN`, 404 `NOT_FOUND`, …, a plugin's
 * own code kept); PostgreSQL's deadlock or serialization failure a 503 `TRANSACTION_CONFLICT` with
 * `Retry-After` (the work was rolled back; the same request again will pass); anything else is a 500 whose
 * details stay in the log (with the request id), never in the response.
 */
export function errorHandler(error: FastifyError | BrigadeError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof BrigadeError) {
    if (error.status >= 500) request.log.error({ err: error }, error.message);
    const retryAfter = error.details.retryAfterSeconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.max(0, Math.ceil(retryAfter))));
    // A stale If-Match: the version the client should read, as the ETag a GET of it carries.
    const current = error.details.currentVersion;
    if (error instanceof ConcurrencyError && error.status === 412 && typeof current === 'number') reply.header('etag', etagOf(current));
    // RFC 9110: a 401 names the scheme that would have been accepted; RFC 6750's invalid_token only
    // where a token was refused (not for a sign-in's wrong password, where none was sent).
    if (error.status === 401) reply.header('www-authenticate', error.code === 'TOKEN_INVALID' || error.code === 'TOKEN_EXPIRED' ? 'Bearer error="invalid_token"' : 'Bearer');
    return sendProblem(request, reply, error.status, error.code, error.message, { ...error.details });
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const params = (first?.params ?? {}) as { missingProperty?: string; additionalProperty?: string; pattern?: string };
    // The field at fault: where the error is, and below it the member missing or not allowed there.
    const field = [fe.validationContext, ...(first?.instancePath ?? '').split('/').filter(Boolean), params.missingProperty ?? params.additionalProperty].filter(Boolean).join('.');
    const choices = first === undefined ? undefined : allowedValuesOf(fe.validation, first.instancePath);
    const rule = first?.keyword === 'pattern' ? PATTERN_RULES.get(params.pattern ?? '') : choices !== undefined ? `must be one of: ${choices.join(', ')}` : undefined;
    const detail =
      params.additionalProperty !== undefined
        ? `${field} is not a field of this request; remove it (see /docs for the fields it takes)`
        : params.missingProperty !== undefined
          ? `${field} is required; send it (see /docs)`
          : `${field || 'input'} ${rule ?? first?.message ?? 'is invalid'}`;
    return sendProblem(request, reply, 400, 'VALIDATION_FAILED', detail, { field });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      // The limit in bytes (HTTP_BODY_LIMIT on the API), in the words and as `limit`: the 413 did not say how large a body may be.
      const limit = request.routeOptions.bodyLimit;
      return typeof limit === 'number'
        ? sendProblem(request, reply, 413, 'PAYLOAD_TOO_LARGE', `The request body is larger than this server accepts: at most ${limit} bytes; send a smaller one.`, { limit })
        : sendProblem(request, reply, 413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than this server accepts; send a smaller one.');
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendProblem(request, reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return sendProblem(request, reply, 400, 'MALFORMED_JSON', 'The body is not valid JSON; send a JSON object with Content-Type: application/json.');
    case 'FST_ERR_BAD_URL':
      return sendProblem(request, reply, 400, 'BAD_URL', 'The URL is not valid (a broken %-escape); encode it and send again.');
  }
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    // A plugin's own code stays; Fastify's FST_ERR_* names are its internals, not Brigade's catalogue.
    const code = fe.code !== undefined && !fe.code.startsWith('FST_') ? fe.code : codeOfStatus(fe.statusCode);
    return sendProblem(request, reply, fe.statusCode, code, fe.message);
  }
  const conflict = asTransactionConflict(error);
  if (conflict !== undefined) return errorHandler(conflict, request, reply);
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(request, reply, 500, 'INTERNAL', `Something went wrong on our side; quote request id ${String(request.id)} when you report it.`);
}
