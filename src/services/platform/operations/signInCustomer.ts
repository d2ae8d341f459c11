import { hashPassword, passwordNeedsRehash, verifyPassword, type TokenService } from '../../../platform/auth/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { InvalidCredentialsError } from './errors.ts';
import { findCustomerCredentials } from './findCustomerCredentials.ts';
import { releaseSignInAttempt } from './releaseSignInAttempt.ts';
import { reserveSignInAttempt, SIGN_IN_ACTOR } from './reserveSignInAttempt.ts';
import { upgradeCustomerPasswordHash } from './upgradeCustomerPasswordHash.ts';

/**
 * Signs a customer in with their e-mail address and password (decision 0007): a customer token of the
 * default lifetime (`TOKEN_TTL_SECONDS`' 12 h default, as sign-up's).
 *
 * 1. One transaction of the system actor `customer-sign-in` reserves an attempt for the address
 *    ({@link reserveSignInAttempt}: 429 when it is held) and reads the customer's hash, if any.
 * 2. The password is checked outside any transaction (scrypt takes a tenth of a second or more):
 *    against the hash, or against a dummy when there is none, so an unknown address, a customer
 *    without a password and a wrong password cost the same and get the same 401.
 * 3. On a match the attempt is deleted, a hash of older parameters is replaced by one of the current
 *    (as the customer; the same password, so the credentials version stays), and the token is signed
 *    with the credentials version read in step 1: should a change have come in between, it is older
 *    than the customer's and refused, as it should be (it was checked against the password changed).
 *
 * @throws {TooManyAttemptsError} 429 `TOO_MANY_ATTEMPTS`, with `retryAfterSeconds`.
 * @throws {InvalidCredentialsError} 401 `INVALID_CREDENTIALS`, whatever did not match.
 *
 * `deps.attemptsKey` is the sign-in attempts' key, `deriveKey(SIGN_IN_ATTEMPTS_KEY)` ({@link reserveSignInAttempt}).
 *
 * @example
 * const { token, customerId } = await signInCustomer({ unitOfWork, tokens, attemptsKey }, { email, password });
 */
export async function signInCustomer(
  deps: { readonly unitOfWork: UnitOfWorkFn; readonly tokens: TokenService; readonly attemptsKey: Buffer },
  input: { readonly email: string; readonly password: string },
): Promise<{ token: string; customerId: string }> {
  const { attemptId, customer } = await deps.unitOfWork({ service: 'platform', actor: SIGN_IN_ACTOR }, async (tx) => ({
    attemptId: await reserveSignInAttempt(tx, deps.attemptsKey, { email: input.email }),
    customer: await findCustomerCredentials(tx, { email: input.email }),
  }));
  const matches = await verifyPassword(input.password, customer?.passwordHash ?? null);
  if (customer === null || customer.passwordHash === null || !matches) throw new InvalidCredentialsError();
  await deps.unitOfWork({ service: 'platform', actor: SIGN_IN_ACTOR }, (tx) => releaseSignInAttempt(tx, attemptId));
  const stored = customer.passwordHash;
  if (passwordNeedsRehash(stored)) {
    const upgraded = await hashPassword(input.password);
    // A change the customer made meanwhile wins (compare-and-set): the upgrade is then moot.
    await deps.unitOfWork({ service: 'platform', actor: { kind: 'customer', id: customer.customerId } }, (tx) => upgradeCustomerPasswordHash(tx, customer.customerId, upgraded, stored));
  }
  const token = await deps.tokens.sign({ role: 'customer', subject: customer.customerId, credentialsVersion: customer.credentialsVersion });
  return { token, customerId: customer.customerId };
}
