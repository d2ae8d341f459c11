import { verifyPassword } from '../../../platform/auth/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { CurrentPasswordMismatchError } from './errors.ts';
import { findCustomerCredentials, type CustomerCredentials } from './findCustomerCredentials.ts';
import { releaseSignInAttempt } from './releaseSignInAttempt.ts';
import { reserveSignInAttempt, SIGN_IN_ACTOR } from './reserveSignInAttempt.ts';

/**
 * Asks the calling customer for their current password before an action a stolen token must not do
 * alone (decision 0007): changing the password, putting a card on file, erasing the account (0090).
 * Reads `customerId`'s credentials as the customer themselves; when a password is set, `currentPassword`
 * must be it. The attempt is reserved before the password is checked ({@link reserveSignInAttempt}),
 * in the customer's own bucket of wrong current passwords, not their address's: only a holder of the
 * customer's token adds to it, so an anonymous guesser who holds the address (five wrong sign-ins)
 * cannot keep the owner from rotating their password, and a thief with a token still gets the sign-in
 * limit's five guesses a window here; a right one is released. A customer without a password (or without a row: a token of an
 * id that never signed up) needs nothing more than the token, and `currentPassword` is not looked at.
 *
 * The password is checked outside any transaction (scrypt takes a tenth of a second or more).
 *
 * @param action - what the caller wants, for the 403's message: "change it", "erase your account" …
 * @returns the credentials read (null: no such customer), so that a password change compares-and-sets
 *   against the hash that was checked.
 * @throws {CurrentPasswordMismatchError} 403 `CURRENT_PASSWORD_MISMATCH`: a password is set and
 *   `currentPassword` is missing or wrong.
 * @throws {TooManyAttemptsError} 429 `TOO_MANY_ATTEMPTS`: held; no password was checked.
 *
 * @example
 * await confirmCurrentPassword({ unitOfWork, attemptsKey }, principal.subject, body.currentPassword, 'erase your account');
 */
export async function confirmCurrentPassword(
  deps: { readonly unitOfWork: UnitOfWorkFn; readonly attemptsKey: Buffer },
  customerId: string,
  currentPassword: string | undefined,
  action: string,
): Promise<CustomerCredentials | null> {
  const { unitOfWork } = deps;
  const customer = await unitOfWork({ service: 'platform', actor: { kind: 'customer', id: customerId }, readOnly: true }, (tx) => findCustomerCredentials(tx, { id: customerId }));
  if (customer === null || customer.passwordHash === null) return customer;
  if (currentPassword === undefined) throw new CurrentPasswordMismatchError(false, action);
  const attemptId = await unitOfWork({ service: 'platform', actor: SIGN_IN_ACTOR }, (tx) => reserveSignInAttempt(tx, deps.attemptsKey, { customerId }));
  if (!(await verifyPassword(currentPassword, customer.passwordHash))) throw new CurrentPasswordMismatchError(true, action);
  await unitOfWork({ service: 'platform', actor: SIGN_IN_ACTOR }, (tx) => releaseSignInAttempt(tx, attemptId));
  return customer;
}
