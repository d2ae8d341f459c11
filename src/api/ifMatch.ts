import { PreconditionRequiredError, ValidationError } from '../platform/errors/index.ts';

/** The version in an `If-Match` header (`"7"`, `W/"7"` or `7`); 428 when it is missing. */
export function ifMatchVersion(header: string | string[] | undefined): number {
  if (header === undefined || header === '') throw new PreconditionRequiredError();
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^(?:W\/)?"?(\d{1,9})"?$/.exec((value ?? '').trim());
  if (match?.[1] === undefined) throw new ValidationError('If-Match must be the version from the ETag you read, e.g. "3"', { field: 'If-Match' });
  return Number(match[1]);
}

/** The ETag of a version. */
export const etagOf = (version: number) => `"${version}"`;
