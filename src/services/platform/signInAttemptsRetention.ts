import { countRetentionDeletes, runRetentionPasses, warnEveryMinute, type ServiceDeps, type ServiceWorker } from '../../platform/runtime/index.ts';
import { pruneSignInAttempts } from './operations/pruneSignInAttempts.ts';
import { SIGN_IN_ACTOR } from './operations/reserveSignInAttempt.ts';

/** Pause between passes: an expired attempt stays at most this long past the limiter's window. */
const PASS_INTERVAL_MS = 60_000;
/** Attempts per delete statement, each its own short transaction. */
const BATCH_SIZE = 1000;

/**
 * Worker `platform/sign-in-attempts-retention` (decision 0007): every minute, deletes the sign-in
 * attempts older than the limiter's window ({@link pruneSignInAttempts}), in batches while a batch comes
 * back full, whether or not anyone signs in (the reservations pruned them only as they came, so with no
 * later sign-in they stayed for ever). Each batch's rows are counted in
 * `brigade_retention_deleted_total{table="platform.customer_sign_in_attempts"}`. A failed pass is said
 * in the log at most once a minute and retried at the next one; rows only wait longer. Several
 * processes may run it at once: their batches skip each other's rows. `brigade start` and `brigade
 * worker` run it.
 */
export const signInAttemptsRetention: ServiceWorker = {
  name: 'sign-in-attempts-retention',
  run: (deps: ServiceDeps, signal: AbortSignal) =>
    runRetentionPasses({
      pruneBatch: (batchSize) => deps.unitOfWork({ service: 'platform', actor: SIGN_IN_ACTOR }, (tx) => pruneSignInAttempts(tx, batchSize)),
      batchSize: BATCH_SIZE,
      intervalMs: PASS_INTERVAL_MS,
      onBatch: countRetentionDeletes(deps.metrics, 'platform.customer_sign_in_attempts'),
      onError: warnEveryMinute('sign-in attempts retention', 'expired failed sign-ins stay in platform.customer_sign_in_attempts until a pass succeeds'),
      signal,
    }),
};
