import { BrigadeError } from '../platform/errors/index.ts';

/** Where a request carries an input, as the schema's 400s name it (`body.name`, `querystring.limit`, `params.id`). */
export type InputLocation = 'body' | 'querystring' | 'params';

/** A `field` that already says where it is: a location's, or a header's name (`If-Match`, `Idempotency-Key`). */
const LOCATED = /^(body|querystring|params|headers)\.|^[A-Z]/;

/**
 * `error` with its `details.field` at `location` when it names an input without saying where
 * (`restaurantId` → `body.restaurantId`, `lines.0` → `body.lines.0`); any other error, or a field that
 * says where already, as it is. The same class, message, code and cause: only `field` changes.
 *
 * The operations name their inputs bare, as the CLI (which maps them to its flags) and the HTTP routes
 * share them; a route says where its request carried them, so that every problem document's `field`
 * reads as the schema's do (decision 0083, "Fixed later").
 */
export function fieldAt(error: unknown, location: InputLocation): unknown {
  if (!(error instanceof BrigadeError)) return error;
  const field = error.details.field;
  if (typeof field !== 'string' || field === '' || LOCATED.test(field)) return error;
  const located = Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as BrigadeError;
  Object.defineProperty(located, 'details', { value: Object.freeze({ ...error.details, field: `${location}.${field}` }), enumerable: true });
  return located;
}

/**
 * A `.catch` handler that rethrows with {@link fieldAt}: for a route whose operation checks inputs the
 * request carried at `location`.
 *
 * @example
 * const token = await mintToken(deps, request.body, ttlSeconds).catch(inputAt('body'));
 */
export const inputAt =
  (location: InputLocation) =>
  (error: unknown): never => {
    throw fieldAt(error, location);
  };
