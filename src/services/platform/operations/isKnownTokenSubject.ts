import type { Tx } from '../../../platform/db/index.ts';
import type { Role } from '../../../platform/auth/index.ts';

/** Where each role's subjects are known: a row of the platform's (a token may still name a subject without one). */
const ROWS: Readonly<Record<Exclude<Role, 'admin'>, string>> = {
  staff: 'select exists (select 1 from platform.staff where id = $1::uuid) as known',
  courier: 'select exists (select 1 from platform.couriers where id = $1::uuid) as known',
  customer: 'select exists (select 1 from platform.customers where id = $1::uuid) as known',
};

/**
 * Whether `subject` (as `tokenSubject` folds it) names anyone the platform knows of in `role`: a staff
 * member's, courier's or customer's row for a UUID; for an admin's name, an entry of the admin audit
 * log made by it (every admin request writes one) or minting it (`target.minted`). Runs in an admin's
 * transaction (the tables' `admin_all` policies). A revocation of a subject that is not known still
 * stands (tokens may name any subject: `brigade token`, which leaves no audit entry until the token is
 * used), so this only lets the answer say "check the spelling" (decision 0007, forty-ninth session).
 *
 * The audit look-up has no index on the actor (a sequential scan of the log, with `lower()`, since
 * names were kept as typed before they were folded): a revocation is a rare admin act.
 */
export async function isKnownTokenSubject(tx: Tx, role: Role, subject: string): Promise<boolean> {
  const { rows } =
    role === 'admin'
      ? await tx.query<{ known: boolean }>(
          `select exists (
             select 1 from platform.admin_audit
              where lower(actor_id) = $1 or (target #>> '{minted,role}' = 'admin' and lower(target #>> '{minted,subject}') = $1)
           ) as known`,
          [subject],
        )
      : await tx.query<{ known: boolean }>(ROWS[role], [subject]);
  return rows[0]?.known === true;
}
