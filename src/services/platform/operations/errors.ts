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

/**
 * 404 `NOT_FOUND`: a token was asked for a restaurant the directory does not know. A staff token for
 * it could write tenant rows that no directory entry covers and no move would carry (decision 0007).
 */
export class TokenRestaurantUnknownError extends BrigadeError {
  constructor(restaurantId: string) {
    super(
      'NOT_FOUND',
      404,
      `restaurant ${restaurantId} not found: no token is minted for a restaurant the directory does not know. ` +
        'Create it first (brigade tenants add NAME --city CITY, or POST /v1/restaurants as an admin); brigade tenants list shows the ids',
      { details: { resource: 'restaurant' } },
    );
  }
}

/**
 * 409 `CUSTOMER_HAS_OPEN_ORDERS`: the customer's erasure was refused while orders of theirs are on
 * their way (decision 0090): it would leave their courier without the address. `details.orderIds`
 * names them.
 */
export class CustomerHasOpenOrdersError extends BrigadeError {
  constructor(customerId: string, orderIds: readonly string[]) {
    super(
      'CUSTOMER_HAS_OPEN_ORDERS',
      409,
      `Customer ${customerId} has orders not yet delivered, rejected or cancelled (${orderIds.join(', ')}): erasing them now would leave the courier without the delivery address. ` +
        'Erase once they are delivered, or cancel them first (the customer before the restaurant accepts, its staff before pick-up); an order just finished may take a moment to show. ' +
        'An admin who must erase now anyway sends ?force=true.',
      { details: { orderIds: [...orderIds] } },
    );
  }
}
