export type {
  BackoffOptions,
  Message,
  MessageHandler,
  MessageHeaders,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  SubscriptionSpec,
  Transport,
} from './types.ts';
export {
  AttemptsExhaustedError,
  ClaimCheckMissingError,
  ClaimCheckReleaseError,
  DeadLetterBusyError,
  DeadLetterCursorGoneError,
  DeadLetterNotFoundError,
  DeadLetterTransportMismatchError,
  DeadLetterUndecodableError,
  FailuresCleanupError,
  InvalidMessageError,
  LeaseLostError,
  NoSuchSubscriptionError,
  RedriveInterruptedError,
  SubscriptionSubjectMismatchError,
  UndecodableMessageError,
  UnknownSubscriptionError,
} from './errors.ts';
export { newMessageId } from './newMessageId.ts';
export { headerProblem, validateMessage } from './validate.ts';
export { serializedPayload, withSerializedPayload } from './serializedPayload.ts';
export { backoffDelay } from './backoffDelay.ts';
export { BUS_SCHEMA, busSchemaSql } from './busSchemaSql.ts';
export { busDeadLettersUniqueSql } from './busDeadLettersUniqueSql.ts';
export { busFailuresAttemptsSql } from './busFailuresAttemptsSql.ts';
export { busFailuresLastErrorSql } from './busFailuresLastErrorSql.ts';
export { busFailuresLastFailedAtSql } from './busFailuresLastFailedAtSql.ts';
export { busRetentionIndexesSql } from './busRetentionIndexesSql.ts';
export { busMigrationsSql, ensureBusSchema } from './ensureBusSchema.ts';
export { claimCheckRefsReleasedSql } from './claimCheck/claimCheckRefsReleasedSql.ts';
export { ensureSubscriptions } from './ensureSubscriptions.ts';
export { runConsumer } from './runConsumer.ts';
export { isLastingBusError } from './isLastingBusError.ts';
export { causeOfMessage, type MessageCause } from './causeOfMessage.ts';
export { createPgTransport } from './postgres/createPgTransport.ts';
export type { PgTransportOptions } from './postgres/createPgTransport.ts';
export { busPublishSql, publishToBus } from './postgres/publishToBus.ts';
export { pruneBus } from './postgres/pruneBus.ts';
export type { PruneBusOptions } from './postgres/pruneBus.ts';
export type { BatchedDeleteOptions } from './deleteOldestInBatches.ts';
export { runBusRetention } from './runBusRetention.ts';
export type { BusRetentionEvent, BusRetentionOptions } from './runBusRetention.ts';
export { createNatsTransport } from './nats/createNatsTransport.ts';
export type { NatsTransportOptions } from './nats/createNatsTransport.ts';
export { createNatsTransportInBackground } from './nats/createNatsTransportInBackground.ts';
export type { BackgroundNatsTransport, BackgroundNatsTransportOptions } from './nats/createNatsTransportInBackground.ts';
export { checkNatsReachable } from './nats/checkNatsReachable.ts';
export { natsServersNamed } from './nats/connectNats.ts';
export { NATS_PING_TIMEOUT_MS, pingNats } from './nats/pingNats.ts';
export { FAILURES_MARGIN_MS, pruneFailures } from './nats/pruneFailures.ts';
export type { PruneFailuresOptions } from './nats/pruneFailures.ts';
export { inboxSchemaSql } from './inbox/inboxSchemaSql.ts';
export { inboxHandler } from './inbox/inboxHandler.ts';
export { INBOX_RETENTION_FLOOR_MS, inboxRetentionSql } from './inbox/inboxRetentionSql.ts';
export { pruneInbox } from './inbox/pruneInbox.ts';
export { runInboxRetention, type InboxRetentionOptions } from './inbox/runInboxRetention.ts';
export type { InboxHandlerOptions, InboxMessageHandler } from './inbox/inboxHandler.ts';
export type { DeadLetter } from './deadLetters/types.ts';
export { listDeadLetters, MAX_DEAD_LETTER_LIST } from './deadLetters/listDeadLetters.ts';
export type { ListDeadLettersOptions } from './deadLetters/listDeadLetters.ts';
export { listDeadLetterPage } from './deadLetters/listDeadLetterPage.ts';
export type { DeadLetterPage } from './deadLetters/listDeadLetterPage.ts';
export { showDeadLetter } from './deadLetters/showDeadLetter.ts';
export { DEFAULT_REDRIVE_LIMIT, MAX_REDRIVE_LIMIT, redriveDeadLetters } from './deadLetters/redriveDeadLetters.ts';
export type { RedriveCursor, RedriveOptions, RedriveOutcome, RedriveProgress, RedriveSelection } from './deadLetters/redriveDeadLetters.ts';
export { dropDeadLetter } from './deadLetters/dropDeadLetter.ts';
export { registerDeadLetterMetrics } from './deadLetters/registerDeadLetterMetrics.ts';
export { withClaimCheck, CLAIM_CHECK_HEADER } from './claimCheck/withClaimCheck.ts';
export type { ClaimCheckOptions } from './claimCheck/withClaimCheck.ts';
export { purgeClaimChecks, CLAIM_CHECK_GRACE_MS } from './claimCheck/purgeClaimChecks.ts';
export { registerClaimCheckMetrics } from './claimCheck/registerClaimCheckMetrics.ts';
export type { ClaimCheckMetricsOptions } from './claimCheck/registerClaimCheckMetrics.ts';
export type { PurgeClaimChecksOptions } from './claimCheck/purgeClaimChecks.ts';
