import { TOKEN_MAX_LIFETIME_SECONDS } from '../../../platform/auth/index.ts';
import type { Tx } from '../../../platform/db/index.ts';

/** The one actor that may read revocations to delete them, and delete them (platform migration 0038). */
export const TOKEN_REVOCATION_RETENTION_ACTOR = Object.freeze({ kind: 'system', id: 'token-revocation-retention' } as const);

/**
 * The least grace a revocation gets past the expiry of the last token it refuses: a minute, whatever
 * is asked. `TOKEN_REVOCATION_GRACE_MS` takes no less, and the table's delete policy refuses younger
 * rows to everyone (platform migration 0038: `interval '30 days 61 seconds'`, this and
 * {@link TOKEN_MAX_LIFETIME_SECONDS}).
 */
export const TOKEN_REVOCATION_GRACE_FLOOR_MS = 60_000;

/**
 * Deletes up to `batchSize` token revocations whose every token has expired, oldest first: those whose
 * `revoked_before` is more than {@link TOKEN_MAX_LIFETIME_SECONDS} (the longest a token the verifier
 * accepts lives from its `iat`) and `graceMs` (never less than {@link TOKEN_REVOCATION_GRACE_FLOOR_MS}:
 * the margin for a verifying process's clock behind the database's) ago, by the database's clock. Runs
 * as {@link TOKEN_REVOCATION_RETENTION_ACTOR}; the worker `platform/token-revocation-retention` calls it
 * on a timer (decision 0007).
 *
 * @returns how many were deleted: `batchSize` means there may be more.
 * @example
 * const deleted = await unitOfWork({ service: 'platform', actor: TOKEN_REVOCATION_RETENTION_ACTOR }, (tx) => pruneTokenRevocations(tx, { graceMs: 3_600_000, batchSize: 1000 }));
 */
export async function pruneTokenRevocations(tx: Tx, options: { readonly graceMs: number; readonly batchSize: number }): Promise<number> {
  const keptSeconds = TOKEN_MAX_LIFETIME_SECONDS + Math.max(options.graceMs, TOKEN_REVOCATION_GRACE_FLOOR_MS) / 1000;
  // The age is checked on the row deleted too, not only in the sub-select: an admin who revokes the
  // subject again while this runs moves `revoked_before` to now, and the DELETE, which waited for that
  // row's lock, re-checks its own WHERE on the new version and keeps it (the sub-select's answer is not
  // re-read). No FOR UPDATE SKIP LOCKED: the actor may not lock rows (that needs an UPDATE policy), and
  // a second pass on the same rows only waits for the first to commit, then finds them gone. Served by
  // token_revocations_by_time (revoked_before).
  const { rowCount } = await tx.query(
    `delete from platform.token_revocations
      where revoked_before < now() - make_interval(secs => $1)
        and (role, subject) in (
          select role, subject from platform.token_revocations where revoked_before < now() - make_interval(secs => $1)
           order by revoked_before limit $2)`,
    [keptSeconds, options.batchSize],
  );
  return rowCount ?? 0;
}
