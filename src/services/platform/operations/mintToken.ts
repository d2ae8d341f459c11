import { MINT_CHAIN_MAX, TOKEN_TTL_SECONDS, type Principal, type Role, type TokenService } from '../../../platform/auth/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import { isUuid } from '../../../platform/ids/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { restaurantDirectory } from '../directory.ts';
import { MintChainTooLongError, TokenRestaurantUnknownError } from './errors.ts';
import { readCredentialsVersion } from './readCredentialsVersion.ts';

/** What a token is asked for: its role, and the subject and restaurant it names. */
export interface TokenRequest {
  readonly role: Role;
  readonly subject?: string;
  readonly restaurantId?: string;
  /**
   * The admin who asks through `POST /v1/tokens`: the token's `act` claim names them first, then the
   * minters of their own token (its `mintChain`), so that revoking any of them refuses it (decision 0007).
   */
  readonly minter?: Pick<Principal, 'subject' | 'mintChain'>;
  /**
   * A reset token (`POST /v1/tokens` `reset`, `brigade token --reset`): a customer token naming its
   * customer, marked (`amr: ["reset"]`) so that it sets their first password with no `currentPassword`,
   * which a customer's other tokens may not (decision 0007). Minted after `DELETE /v1/customers/{id}/password`.
   */
  readonly reset?: boolean;
}

/**
 * Mints a token as the platform lets one be asked for, the one set of checks of `POST /v1/tokens`,
 * `brigade token` and the development login's `POST /dev/tokens`: a lifetime of
 * {@link TOKEN_TTL_SECONDS} (a minute to 30 days), the claims `tokens.sign` checks (a staff token names
 * its restaurant, …), and a restaurant the directory knows. The directory is read (a read-only
 * transaction of the platform service) only when the request names a restaurant: an admin token
 * needs no database.
 *
 * A customer token names its customer's current credentials version (its `cv` claim, decision 0007),
 * read as that customer in a read-only transaction of the platform service: a token of an older one
 * would be refused at once (401 `TOKEN_REVOKED`). A subject that is no customer (never signed up, or
 * erased) gets 0, and no subject (a new UUID) reads nothing.
 *
 * A token asked for by a `minter` names the chain of minters (the minter, then the minters of its
 * token), at most {@link MINT_CHAIN_MAX}.
 *
 * A `reset` request must be of a customer token naming its subject; the token carries `amr: ["reset"]`.
 *
 * @throws {ValidationError} 400, `details.field` `ttlSeconds`, `role`, `subject`, `restaurantId` or `reset`.
 * @throws {MintChainTooLongError} 403 `MINT_CHAIN_TOO_LONG`: the minter's token was itself minted through {@link MINT_CHAIN_MAX} admins.
 * @throws {TokenRestaurantUnknownError} 404 `NOT_FOUND`: the restaurant is not in the directory.
 *
 * @example
 * const token = await mintToken({ unitOfWork: deps.unitOfWork, tokens: deps.tokens }, { role: 'staff', restaurantId }, 3600);
 */
export async function mintToken(deps: { readonly unitOfWork: UnitOfWorkFn; readonly tokens: TokenService }, request: TokenRequest, ttlSeconds?: number): Promise<string> {
  if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds >= TOKEN_TTL_SECONDS.min && ttlSeconds <= TOKEN_TTL_SECONDS.max)) {
    throw new ValidationError(`ttlSeconds must be a whole number of seconds from ${TOKEN_TTL_SECONDS.min} (a minute) to ${TOKEN_TTL_SECONDS.max} (30 days), got ${String(ttlSeconds)}`, { field: 'ttlSeconds' });
  }
  if (request.reset === true && (request.role !== 'customer' || request.subject === undefined)) {
    throw new ValidationError('reset is for a customer token naming its customer: role customer and their id as subject', { field: 'reset' });
  }
  const { minter, reset, ...claims } = request;
  const mintChain = minter === undefined ? undefined : [minter.subject, ...(minter.mintChain ?? [])];
  if (mintChain !== undefined && mintChain.length > MINT_CHAIN_MAX) throw new MintChainTooLongError(minter!.subject, mintChain.length - 1);
  // Signed first: its checks of the claims come before any database is opened; the token is dropped
  // if the restaurant turns out unknown. A customer's version is read before, for a request whose
  // claims can pass (a UUID subject, no restaurant); sign refuses the others without a read.
  const { subject } = request;
  const credentialsVersion =
    request.role === 'customer' && subject !== undefined && isUuid(subject) && request.restaurantId === undefined
      ? await deps.unitOfWork({ service: 'platform', actor: { kind: 'customer', id: subject.toLowerCase() }, readOnly: true }, (tx) => readCredentialsVersion(tx, subject))
      : undefined;
  const token = await deps.tokens.sign({ ...claims, ...(mintChain === undefined ? {} : { mintChain }), ...(credentialsVersion === undefined ? {} : { credentialsVersion }), ...(reset === true ? { amr: 'reset' as const } : {}) }, ttlSeconds);
  if (request.restaurantId !== undefined && (await restaurantDirectory(deps.unitOfWork).restaurant(request.restaurantId)) === null) {
    throw new TokenRestaurantUnknownError(request.restaurantId);
  }
  return token;
}
