import type { Role } from '../../../platform/auth/index.ts';

/** One revocation: every token of `role` and `subject` issued up to `revokedBefore` is refused (decision 0007). */
export interface TokenRevocation {
  readonly role: Role;
  readonly subject: string;
  /** ISO 8601 in UTC, a whole second (`2025-05-01T12:00:00Z`): tokens issued up to it, that second included, are refused. */
  readonly revokedBefore: string;
  /** ISO 8601 in UTC, the second after `revokedBefore`: tokens issued from it on are valid. */
  readonly validFrom: string;
  /** The admin who revoked (their token's subject; `cli` for `brigade token revoke`). */
  readonly revokedBy: string;
  readonly reason: string | null;
}

/** A whole second in UTC as ISO 8601. */
const ISO_SECOND = `'YYYY-MM-DD"T"HH24:MI:SS"Z"'`;

/** The columns of `platform.token_revocations` as a {@link TokenRevocation}. */
export const REVOCATION_COLUMNS = `role, subject,
  to_char(revoked_before at time zone 'UTC', ${ISO_SECOND}) as "revokedBefore",
  to_char((revoked_before + interval '1 second') at time zone 'UTC', ${ISO_SECOND}) as "validFrom",
  revoked_by as "revokedBy", reason`;
