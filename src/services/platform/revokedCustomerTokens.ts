import type { Principal } from '../../platform/auth/index.ts';
import type { CommitStatementsFn } from '../../platform/db/index.ts';
import { UnauthorizedError } from '../../platform/errors/index.ts';
import { customerTokenCheckStatement, type CustomerTokenStanding } from './operations/customerTokenCheck.ts';

/** The actor of the look-up: the key table lets system actors read it, platform migration 0028 customers. */
const CHECK = { kind: 'system', id: 'customer-token-check' } as const;

/**
 * The check the API runs on every verified token (`checkPrincipal` of `buildApp`): a customer token is
 * refused with 401 `TOKEN_REVOKED`
 * - when its customer was erased (decision 0090), so a token left on a lost or shared device no longer
 *   lists the orders, reads them or acts on them;
 * - when it carries an older credentials version than the customer's (decision 0007): their password
 *   was changed, set or removed by an admin since it was signed, so a stolen token ends with the reset.
 *
 * One statement, one round trip, per request with a customer token (read-only, on the primary: never
 * a replica that has not replayed the erasure or the change); other roles read nothing.
 *
 * @example
 * await buildApp({ …, tokens, checkPrincipal: refuseRevokedCustomerTokens(deps.commitStatements) });
 */
export function refuseRevokedCustomerTokens(commitStatements: CommitStatementsFn): (principal: Principal) => Promise<void> {
  return async (principal) => {
    if (principal.role !== 'customer') return;
    const [result] = await commitStatements({ service: 'platform', actor: CHECK, readOnly: true }, [customerTokenCheckStatement(principal.subject)]);
    const standing = result?.rows[0] as CustomerTokenStanding | undefined;
    if (standing?.erased === true) {
      throw new UnauthorizedError(
        `This token's customer (${principal.subject}) was erased at their request, so it grants nothing any more. Sign up again for a new account.`,
        'TOKEN_REVOKED',
      );
    }
    if (standing !== undefined && principal.credentialsVersion < standing.credentialsVersion) {
      throw new UnauthorizedError(
        "This token was issued before the customer's password was changed or reset, so it grants nothing any more: sign in again (POST /v1/customers/sign-in) with the current password, or after a reset use the token an admin mints.",
        'TOKEN_REVOKED',
      );
    }
  };
}
