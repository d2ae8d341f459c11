import type { Principal } from '../../platform/auth/index.ts';
import type { CommitStatementsFn } from '../../platform/db/index.ts';
import { UnauthorizedError } from '../../platform/errors/index.ts';
import { tokenCheckStatement, type TokenStanding } from './operations/tokenCheck.ts';

/** The actor of the look-up: the key table lets system actors read it, platform migrations 0028 and 0033 customers and revocations. */
const CHECK = { kind: 'system', id: 'token-check' } as const;

/**
 * The check the API runs on every verified token (`checkPrincipal` of `buildApp`). A token is refused
 * with 401 `TOKEN_REVOKED`
 * - when its customer was erased (decision 0090), so a token left on a lost or shared device no longer
 *   lists the orders, reads them or acts on them;
 * - when it is a customer's and carries an older credentials version than the customer's (decision
 *   0007): their password was changed, set or removed by an admin since it was signed, so a stolen
 *   token ends with the reset;
 * - when an admin revoked its role and subject at or after the second it was issued in (decision
 *   0007, `POST /v1/admin/token-revocations`, `brigade token revoke`): a staff member let go, a courier
 *   removed, a leaked admin token;
 * - when any admin in its chain of minters (its `act` claim, `Principal.mintChain`) was revoked at or
 *   after that second: a token minted with a leaked admin token ends with it, whatever its role.
 *
 * One statement, one round trip, per request with a token, whatever its role (read-only, on the
 * primary: never a replica that has not replayed the erasure, the change or the revocation).
 *
 * @example
 * await buildApp({ …, tokens, checkPrincipal: refuseRevokedTokens(deps.commitStatements) });
 */
export function refuseRevokedTokens(commitStatements: CommitStatementsFn): (principal: Principal) => Promise<void> {
  return async (principal) => {
    const [result] = await commitStatements({ service: 'platform', actor: CHECK, readOnly: true }, [tokenCheckStatement(principal)]);
    const standing = result?.rows[0] as TokenStanding | undefined;
    if (standing === undefined) return;
    if (standing.erased) {
      throw new UnauthorizedError(
        `This token's customer (${principal.subject}) was erased at their request, so it grants nothing any more. Sign up again for a new account.`,
        'TOKEN_REVOKED',
      );
    }
    if (principal.credentialsVersion < standing.credentialsVersion) {
      throw new UnauthorizedError(
        // The token cannot tell a change its holder made from one made with a copy of it (a first
        // password set by whoever copied a password-less customer's token), so the message covers both.
        "This token was issued before the customer's password was changed or reset (setting a first password counts too), so it grants nothing any more. " +
          'If you made that change, go on with the token it answered, or sign in again (POST /v1/customers/sign-in) with that password; after a reset, use the token an admin mints. ' +
          `If you did not, or you never set a password, someone else may have used a copy of your token: ask support to remove the password (DELETE /v1/customers/${principal.subject}/password, an admin's) ` +
          'and mint you a reset token, then set a password of your own with it (PUT /v1/customers/me/password).',
        'TOKEN_REVOKED',
      );
    }
    // iat is whole seconds, and so is the revocation: a token issued in its second is refused too, as
    // it may have been minted before the revocation within that second (migration 0033).
    const issuedAt = principal.issuedAt ?? 0;
    const anew = principal.role === 'customer' ? 'Sign in again (POST /v1/customers/sign-in) for a new token.' : 'If you still need access, ask an admin for a new token.';
    if (standing.revokedBefore !== null && issuedAt <= standing.revokedBefore) {
      const at = new Date(standing.revokedBefore).toISOString();
      throw new UnauthorizedError(`This ${principal.role} token (subject ${principal.subject}) was revoked by an admin: tokens of it issued up to ${at} grant nothing any more. ${anew}`, 'TOKEN_REVOKED');
    }
    // The same rule for each admin through whom it was minted: a token minted before (or in the second
    // of) that admin's revocation may have been minted with the token that leaked.
    const minter = standing.minterRevocations?.find((r) => issuedAt <= r.revokedBefore);
    if (minter !== undefined) {
      const at = new Date(minter.revokedBefore).toISOString();
      throw new UnauthorizedError(
        `This ${principal.role} token (subject ${principal.subject}) was revoked by an admin: it was minted through admin ${minter.subject}, whose tokens were revoked, ` +
          `and tokens minted through them up to ${at} grant nothing any more. ${anew}`,
        'TOKEN_REVOKED',
      );
    }
  };
}
