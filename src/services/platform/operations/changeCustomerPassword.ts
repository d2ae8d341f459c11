import { FIRST_PASSWORD_SIGNUP_SECONDS, hashPassword, type Principal, type TokenService } from '../../../platform/auth/index.ts';
import { NotFoundError } from '../../../platform/errors/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { confirmCurrentPassword } from './confirmCurrentPassword.ts';
import { CurrentPasswordMismatchError, FirstPasswordNeedsResetTokenError } from './errors.ts';
import { findCustomerCredentials } from './findCustomerCredentials.ts';
import { setCustomerPassword } from './setCustomerPassword.ts';

/** What the 403 of a password change says the current password is needed for. */
const ACTION = 'change it';

/**
 * Sets the password of `caller`, a customer (their transactions act as them). Changing one that is set
 * needs `currentPassword` ({@link confirmCurrentPassword}, which limits wrong ones), so a stolen token
 * does not take the account over for good. The first password needs no `currentPassword` (there is none),
 * but a token that shows it is the owner's ({@link mayTokenSetFirstPassword}): the token sign-up
 * answered, within {@link FIRST_PASSWORD_SIGNUP_SECONDS} of its issue, or a reset token an admin minted.
 * Any other token, perhaps a copy lifted from a log or a shared device, gets 403.
 *
 * Either way the customer's credentials version goes up by one with the hash ({@link setCustomerPassword}),
 * so every customer token signed before is refused from now on (401 `TOKEN_REVOKED`, decision 0007);
 * the answer is a fresh customer token of the new version (sign-up's lifetime), so the caller's own
 * session goes on.
 *
 * @throws {NotFoundError} 404: no such customer (a token of an id that never signed up, or erased).
 * @throws {FirstPasswordNeedsResetTokenError} 403 `FIRST_PASSWORD_NEEDS_RESET_TOKEN`: no password is
 *   set and the token is neither a sign-up token younger than 10 minutes nor a reset token.
 * @throws {CurrentPasswordMismatchError} 403 `CURRENT_PASSWORD_MISMATCH`: `currentPassword` missing or
 *   wrong, or the password changed meanwhile (by another request) so that it no longer matches.
 * @throws {TooManyAttemptsError} 429 `TOO_MANY_ATTEMPTS`: too many wrong current passwords lately; nothing was checked.
 *
 * `deps.attemptsKey` is the sign-in attempts' key, as {@link confirmCurrentPassword} takes it.
 *
 * @example
 * const { token } = await changeCustomerPassword({ unitOfWork, tokens, attemptsKey }, principal, { password: 'new one', currentPassword: 'old one' });
 */
export async function changeCustomerPassword(
  deps: { readonly unitOfWork: UnitOfWorkFn; readonly tokens: TokenService; readonly attemptsKey: Buffer },
  caller: Pick<Principal, 'subject' | 'amr' | 'issuedAt'>,
  input: { readonly password: string; readonly currentPassword?: string | undefined },
): Promise<{ token: string }> {
  const { unitOfWork } = deps;
  const customerId = caller.subject;
  const asCustomer = { service: 'platform', actor: { kind: 'customer', id: customerId } } as const;
  const customer = await confirmCurrentPassword(deps, customerId, input.currentPassword, ACTION);
  if (customer === null) throw new NotFoundError('customer', customerId);
  const current = customer.passwordHash;
  if (current === null && !mayTokenSetFirstPassword(caller, Date.now())) throw new FirstPasswordNeedsResetTokenError(customerId, FIRST_PASSWORD_SIGNUP_SECONDS);
  const next = await hashPassword(input.password);
  const credentialsVersion = await unitOfWork(asCustomer, (tx) => setCustomerPassword(tx, customerId, next, current));
  if (credentialsVersion === null) {
    // Changed or erased meanwhile: tell which.
    const now = await unitOfWork({ ...asCustomer, readOnly: true }, (tx) => findCustomerCredentials(tx, { id: customerId }));
    if (now === null) throw new NotFoundError('customer', customerId);
    throw new CurrentPasswordMismatchError(input.currentPassword !== undefined, ACTION);
  }
  return { token: await deps.tokens.sign({ role: 'customer', subject: customerId, credentialsVersion }) };
}

/**
 * Whether the token read into `caller` may set a customer's first password with no `currentPassword`
 * (decision 0007): a reset token an admin minted, or the token sign-up answered, issued at most
 * {@link FIRST_PASSWORD_SIGNUP_SECONDS} before `nowMs`. A copy of a sign-up token lifted later is too
 * old; a token of any other origin (a sign-in's, a password change's, one minted without `reset`)
 * carries no `amr`.
 */
export function mayTokenSetFirstPassword(caller: Pick<Principal, 'amr' | 'issuedAt'>, nowMs: number): boolean {
  if (caller.amr === 'reset') return true;
  return caller.amr === 'signup' && caller.issuedAt !== undefined && nowMs - caller.issuedAt <= FIRST_PASSWORD_SIGNUP_SECONDS * 1000;
}
