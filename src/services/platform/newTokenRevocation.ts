import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { NameText } from '../../api/index.ts';
import { ROLES } from '../../platform/auth/index.ts';

/**
 * A revocation asked for, as `POST /v1/admin/token-revocations` takes it (its body schema) and as
 * `brigade token revoke` checks it before it opens a database: one definition of the limits. Whether
 * the subject suits the role (a UUID but for an admin) is checked by `revokeTokens`.
 */
export const NewTokenRevocation = Type.Object(
  {
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    subject: Type.String({ minLength: 1, maxLength: 100, description: "the tokens' subject: a staff member's, courier's or customer's id (a UUID), an admin's name" }),
    reason: Type.Optional({ ...NameText(500), description: 'why, for the admins who list revocations (one line; never shown to the token holder)' }),
  },
  { additionalProperties: false },
);

/** What is wrong with a revocation's fields: one `{ field, message }` per broken rule, or none. */
export function newTokenRevocationProblems(input: unknown): Array<{ readonly field: string; readonly message: string }> {
  return Value.Errors(NewTokenRevocation, input).map((e) => ({ field: e.instancePath.replace(/^\//, ''), message: e.message }));
}
