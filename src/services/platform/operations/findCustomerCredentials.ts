import type { Tx } from '../../../platform/db/index.ts';

/** What signing in as a customer is checked against. Never answered by a route. */
export interface CustomerCredentials {
  readonly customerId: string;
  readonly email: string;
  /** `scrypt$…` (src/platform/auth/passwords.ts), or null while the customer has set no password. */
  readonly passwordHash: string | null;
  /** What a token signed now carries in its `cv` claim: one more for every credential change. */
  readonly credentialsVersion: number;
}

const COLUMNS = 'id as "customerId", email, password_hash as "passwordHash", credentials_version as "credentialsVersion"';

/**
 * The credentials of the customer with `email` (matched without regard to case, as sign-up stores it)
 * or with `id`; null when there is none the transaction may see. Sign-in looks up by e-mail as the
 * system actor `customer-sign-in` (platform migration 0027's `sign_in_read`); a customer changing their
 * password reads their own row by id, as themselves.
 */
export async function findCustomerCredentials(tx: Tx, by: { readonly email: string } | { readonly id: string }): Promise<CustomerCredentials | null> {
  const { rows } =
    'email' in by
      ? await tx.query<CustomerCredentials>(`select ${COLUMNS} from platform.customers where email = lower($1)`, [by.email])
      : await tx.query<CustomerCredentials>(`select ${COLUMNS} from platform.customers where id = $1`, [by.id]);
  return rows[0] ?? null;
}
