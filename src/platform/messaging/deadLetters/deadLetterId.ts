import { DeadLetterNotFoundError } from '../errors.ts';
import { isUuid } from '../../ids/index.ts';

/**
 * `id` when it can name a dead letter (a UUID), checked before it is bound as `$1::uuid`, so that the
 * lookup goes through the primary key and a malformed id is what it always was: `NotFoundError`
 * (NOT_FOUND, 404), as for an id that names nothing, never a database cast error. (Over HTTP the
 * routes' schemas refuse a malformed id first, 400, as every other route's path id.)
 */
export function deadLetterId(id: string): string {
  if (!isUuid(id)) throw new DeadLetterNotFoundError(id);
  return id;
}
