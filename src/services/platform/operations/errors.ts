import { BrigadeError, NotFoundError } from '../../../platform/errors/index.ts';

/** 409: a unique value (an e-mail, a name) is taken. */
export class AlreadyExistsError extends BrigadeError {
  constructor(what: string, field: string) {
    super('ALREADY_EXISTS', 409, `${what} already exists`, { details: { field } });
  }
}

/**
 * Maps the SQLSTATEs the platform's statements can raise to typed errors. Gateway-only: routes see
 * only these. A foreign key into another tenant fails exactly like one to a missing row; the tenant's
 * own key (`<table>_tenant_id_fkey`: a restaurant the directory does not have) names the restaurant.
 */
export function mapPlatformError(error: unknown, what: { unique?: [string, string]; reference?: string }): never {
  const e = error as { code?: string; constraint?: string };
  if (e.code === '23505' && what.unique !== undefined) throw new AlreadyExistsError(what.unique[0], what.unique[1]);
  if (e.code === '23503' && e.constraint?.endsWith('_tenant_id_fkey') === true) throw new NotFoundError('restaurant');
  if (e.code === '23503' && what.reference !== undefined) throw new NotFoundError(what.reference);
  throw error;
}
