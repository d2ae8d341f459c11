import { countRetentionDeletes, runRetentionPasses, warnEveryMinute, type ServiceDeps, type ServiceWorker } from '../../platform/runtime/index.ts';
import { pruneTokenRevocations, TOKEN_REVOCATION_RETENTION_ACTOR } from './operations/pruneTokenRevocations.ts';

/** Pause between passes: a revocation stays at most this long past its grace. Rows are few (one per revoked subject). */
const PASS_INTERVAL_MS = 600_000;
/** Revocations per delete statement, each its own short transaction. */
const BATCH_SIZE = 1000;

/**
 * Worker `platform/token-revocation-retention` (decision 0007): every 10 minutes, deletes the token
 * revocations whose every token has expired, `TOKEN_REVOCATION_GRACE_MS` ago ({@link
 * pruneTokenRevocations}: 30 days, a second and the grace after the revocation's time), in batches while
 * a batch comes back full. Before, they were kept for good. Each batch's rows are counted in
 * `brigade_retention_deleted_total{table="platform.token_revocations"}`; a failed pass is said in the
 * log at most once a minute and retried at the next one: rows only wait longer. Several processes may
 * run it at once. `brigade start` and `brigade worker` run it.
 */
export const tokenRevocationRetention: ServiceWorker = {
  name: 'token-revocation-retention',
  run: (deps: ServiceDeps, signal: AbortSignal) =>
    runRetentionPasses({
      pruneBatch: (batchSize) =>
        deps.unitOfWork({ service: 'platform', actor: TOKEN_REVOCATION_RETENTION_ACTOR }, (tx) => pruneTokenRevocations(tx, { graceMs: deps.config.tokenRevocationGraceMs, batchSize })),
      batchSize: BATCH_SIZE,
      intervalMs: PASS_INTERVAL_MS,
      onBatch: countRetentionDeletes(deps.metrics, 'platform.token_revocations'),
      onError: warnEveryMinute('token revocation retention', 'expired token revocations stay in platform.token_revocations until a pass succeeds; they refuse only expired tokens'),
      signal,
    }),
};
