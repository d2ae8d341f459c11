import { BrigadeError, NotFoundError } from '../../../platform/errors/index.ts';

/** 409: a unique value (an e-mail, a name) is taken; `next`, when given, says what to do (how to find the one that exists). */
export class AlreadyExistsError extends BrigadeError {
  constructor(what: string, field: string, next?: string) {
    super('ALREADY_EXISTS', 409, `${what} already exists${next === undefined ? '' : `: ${next}`}`, { details: { field } });
  }
}

/**
 * Maps the SQLSTATEs the platform's statements can raise to typed errors. Gateway-only: routes see
 * only these. A foreign key into another tenant fails exactly like one to a missing row; the tenant's
 * own key (`<table>_tenant_id_fkey`: a restaurant the directory does not have) names the restaurant.
 */
export function mapPlatformError(error: unknown, what: { unique?: [string, string] | [string, string, string]; reference?: string }): never {
  const e = error as { code?: string; constraint?: string };
  if (e.code === '23505' && what.unique !== undefined) throw new AlreadyExistsError(what.unique[0], what.unique[1], what.unique[2]);
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
 * 403 `MINT_CHAIN_TOO_LONG`: an admin token that was itself minted through `depth` admins (the most a
 * token's `act` claim names, `MINT_CHAIN_MAX`) asked `POST /v1/tokens` for another (decision 0007).
 */
export class MintChainTooLongError extends BrigadeError {
  constructor(minter: string, depth: number) {
    super(
      'MINT_CHAIN_TOO_LONG',
      403,
      `This admin token (${minter}) was itself minted through ${depth} admins, the most a token's chain of minters names, so it cannot mint another. ` +
        'Mint with an admin token that was minted through fewer (one from brigade token --role admin, which holds the secret, names none).',
      { details: { depth } },
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

/**
 * 401 `INVALID_CREDENTIALS`: a sign-in whose e-mail and password do not match a customer's. One
 * answer, word for word, for an unknown address, a customer without a password and a wrong password
 * (decision 0007), so that it tells nobody which addresses are customers'.
 */
export class InvalidCredentialsError extends BrigadeError {
  constructor() {
    super('INVALID_CREDENTIALS', 401, 'The e-mail address or the password is not right; check both and try again');
  }
}

/**
 * 429 `TOO_MANY_ATTEMPTS`: too many failures within the window (decision 0007) of one bucket: failed
 * sign-ins of an e-mail address (`sign-in`), whether or not a customer has it; or wrong current
 * passwords sent with one customer's token (`current-password`: a password change, the card on file,
 * the erasure). `details.retryAfterSeconds` (also the `Retry-After` header) is when the oldest failure
 * that holds it leaves the window.
 */
export class TooManyAttemptsError extends BrigadeError {
  constructor(failures: number, windowSeconds: number, retryAfterSeconds: number, bucket: 'sign-in' | 'current-password' = 'sign-in') {
    const within = `${failures} within ${windowSeconds / 60} minutes`;
    super(
      'TOO_MANY_ATTEMPTS',
      429,
      bucket === 'sign-in'
        ? `Too many failed sign-ins for this e-mail address (${within}). Try again after Retry-After seconds; until then no password is checked for it.`
        : `Too many wrong current passwords sent with this customer's tokens (${within}). Try again after Retry-After seconds; until then no current password is checked. ` +
          'Signing in (POST /v1/customers/sign-in) is not held by them. If they were not yours, someone else holds a token of yours: ask support to revoke your tokens.',
      { details: { retryAfterSeconds } },
    );
  }
}

/**
 * 403 `CURRENT_PASSWORD_MISMATCH`: an action a customer token alone may not do once a password is set
 * (changing the password, putting a card on file, erasing the account; decisions 0007, 0090), without
 * the customer's current password or with a wrong one: whoever holds a stolen token must not be able to
 * take the account over, charge another card or erase it for good. `action` says what the password is
 * needed for ("change it", "erase your account" …).
 */
export class CurrentPasswordMismatchError extends BrigadeError {
  constructor(sent: boolean, action: string) {
    super(
      'CURRENT_PASSWORD_MISMATCH',
      403,
      sent
        ? 'currentPassword is not your current password; send the one you sign in with'
        : `You have a password already: send it as currentPassword to ${action}`,
      { details: { field: 'currentPassword' } },
    );
  }
}

/**
 * 403 `FIRST_PASSWORD_NEEDS_RESET_TOKEN`: a customer without a password sets the first one with no
 * `currentPassword` only with the token sign-up answered, within `signUpSeconds` of its issue, or a
 * reset token an admin minted (decision 0007, "the first password needs something the copy lacks"):
 * any other token may be a copy (a log, a shared device), and the password would give its holder the
 * account for good.
 */
export class FirstPasswordNeedsResetTokenError extends BrigadeError {
  constructor(customerId: string, signUpSeconds: number) {
    super(
      'FIRST_PASSWORD_NEEDS_RESET_TOKEN',
      403,
      `You have no password yet, and this token cannot set the first one: only the token sign-up answered can, within ${signUpSeconds / 60} minutes, or a reset token from support. ` +
        `Ask support to check it is you and mint you a reset token (an admin's POST /v1/tokens with role customer, subject ${customerId} and reset: true, or brigade token --role customer --subject ${customerId} --reset), then set your password with it.`,
    );
  }
}

/**
 * 503 `COURIER_STILL_ON_DISPATCH`: a courier's tokens were revoked (the revocation stands, `revocation`)
 * but taking them off dispatch failed (delivery unavailable): the dispatch may still give them orders
 * they cannot act on. Revoking again is safe (it moves the time forward) and takes them off dispatch
 * too; so does the admin route. The cause is kept.
 */
export class CourierStillOnDispatchError extends BrigadeError {
  readonly revocation: { readonly role: string; readonly subject: string; readonly reason: string | null; readonly revokedBefore: string };
  constructor(revocation: CourierStillOnDispatchError['revocation'], cause: unknown) {
    super(
      'COURIER_STILL_ON_DISPATCH',
      503,
      `The tokens of courier ${revocation.subject} were revoked (up to ${revocation.revokedBefore}), but taking the courier off dispatch failed, so the dispatch may still give them orders: ` +
        `revoke again once the delivery service answers (it takes them off dispatch too), or POST /v1/couriers/${revocation.subject}/availability with {"available": false}`,
      { cause, details: { revokedBefore: revocation.revokedBefore, courierId: revocation.subject } },
    );
    const { role, subject, reason, revokedBefore } = revocation;
    this.revocation = { role, subject, reason, revokedBefore };
  }
}
