const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `value` is a UUID in its canonical text form (any version, either case): what PostgreSQL's
 * `uuid` input accepts from the platform's ids, checked before an id is bound as `$n::uuid` or used as
 * a tenant, so that a malformed id is the caller's typed error (or "nothing found"), never a cast
 * error of the database.
 *
 * @example
 * if (!isUuid(request.params.id)) throw new NotFoundError('order', request.params.id);
 */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
