import { PreconditionRequiredError, ValidationError } from '../platform/errors/index.ts';

const VERSION_TAG = /^(?:W\/)?(?:"(\d{1,9})"|(\d{1,9}))$/;

/**
 * The version in an `If-Match` header: the ETag as read (`"7"`), or the bare number (`7`). A weak
 * `W/"7"` is taken as `"7"`: a proxy that compresses the answer weakens the ETag it passes on, and
 * the version is the same. 428 when the header is missing; 400 for `*` (a write here needs the
 * version it was decided on), a list of tags, or anything else.
 */
export function ifMatchVersion(header: string | string[] | undefined): number {
  if (header === undefined || header === '') throw new PreconditionRequiredError();
  const value = (Array.isArray(header) ? header.join(', ') : header).trim();
  const match = VERSION_TAG.exec(value);
  const version = match?.[1] ?? match?.[2];
  if (version !== undefined) return Number(version);
  const why = value === '*' ? 'If-Match: * is not taken here' : value.includes(',') ? 'If-Match must hold one version, not a list' : 'If-Match is not a version';
  throw new ValidationError(`${why}: send the version from the ETag you read, e.g. If-Match: "3"`, { field: 'If-Match' });
}

/** The ETag of a version. */
export const etagOf = (version: number) => `"${version}"`;
