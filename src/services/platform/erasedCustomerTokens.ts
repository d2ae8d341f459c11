import type { Principal } from '../../platform/auth/index.ts';
import type { CommitStatementsFn } from '../../platform/db/index.ts';
import { UnauthorizedError } from '../../platform/errors/index.ts';
import { isCustomerErasedStatement } from './operations/isCustomerErased.ts';

/** The actor of the look-up: the key table lets system actors read it. */
const CHECK = { kind: 'system', id: 'customer-token-check' } as const;

/**
 * The check the API runs on every verified token (`checkPrincipal` of `buildApp`): a customer token
 * whose customer was erased (decision 0090) is refused with 401 `TOKEN_REVOKED`, so a token left on a
 * lost or shared device no longer lists the orders, reads them or acts on them. One primary-key read
 * per request with a customer token (read-only, one round trip, on the primary: never a replica that
 * has not replayed the erasure); other roles read nothing.
 *
 * @example
 * await buildApp({ …, tokens, checkPrincipal: refuseErasedCustomers(deps.commitStatements) });
 */
export function refuseErasedCustomers(commitStatements: CommitStatementsFn): (principal: Principal) => Promise<void> {
  return async (principal) => {
    if (principal.role !== 'customer') return;
    const [result] = await commitStatements({ service: 'platform', actor: CHECK, readOnly: true }, [isCustomerErasedStatement(principal.subject)]);
    if ((result?.rowCount ?? 0) > 0) {
      throw new UnauthorizedError(
        `This token's customer (${principal.subject}) was erased at their request, so it grants nothing any more. Sign up again for a new account.`,
        'TOKEN_REVOKED',
      );
    }
  };
}
