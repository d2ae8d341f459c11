import { BrigadeError, NotFoundError } from '../errors/index.ts';

/** 409: an ack or nack came with a lease that is no longer the current one (the attempt was taken over). */
export class LeaseLostError extends BrigadeError {
  constructor(deliveryId: string) {
    super('MESSAGE_LEASE_LOST', 409, `The lease on delivery ${deliveryId} expired and another worker took the message over`, {
      details: { deliveryId },
    });
  }
}

/**
 * 400: a message, subject, pattern or subscription name the bus cannot use. `details.field` says what of it;
 * `details.messageId`, when given, which message of a batch (a broker's refusal of one it was sent:
 * decision 0078, "Fixed later"), so that the outbox relay names that row rather than the batch's first.
 */
export class InvalidMessageError extends BrigadeError {
  constructor(message: string, field: string, options: { cause?: unknown; messageId?: string } = {}) {
    const { messageId, cause } = options;
    super('MESSAGE_INVALID', 400, message, { details: messageId === undefined ? { field } : { field, messageId }, ...(cause === undefined ? {} : { cause }) });
  }
}

/**
 * 409: the subscription does not exist (never created, or removed or renamed since). The code stays
 * `SUBSCRIPTION_UNKNOWN`. It was a 404, which on `POST /v1/admin/dead-letters/:id/redrive` read as
 * "no such dead letter"; the letter is there, its subscription is what is missing. Given the dead
 * letter (`deadLetter`), the message says what the operator can do with it.
 */
export class UnknownSubscriptionError extends BrigadeError {
  constructor(subscription: string, options: { cause?: unknown; deadLetter?: string } = {}) {
    const { deadLetter } = options;
    super(
      'SUBSCRIPTION_UNKNOWN',
      409,
      deadLetter === undefined
        ? `Subscription ${subscription} does not exist: 'brigade migrate' creates the platform's subscriptions (in code, transport.ensureSubscription creates one)`
        : `Dead letter ${deadLetter} cannot go back: its subscription ${subscription} does not exist (removed or renamed). ` +
            `'brigade migrate' creates the platform's subscriptions, then redrive it again; or 'brigade dlq drop ${deadLetter}' if it is not wanted`,
      { details: deadLetter === undefined ? { subscription } : { subscription, deadLetter }, cause: options.cause },
    );
  }
}

/**
 * 409 `SUBSCRIPTION_SUBJECT_MISMATCH`: a message redelivered (a dead letter redriven) to a subscription
 * whose pattern does not take its subject (the pattern changed since the letter was parked); nothing is
 * sent. The letter is there and the request was well formed: a conflict with the subscription as it is
 * now, as `SUBSCRIPTION_UNKNOWN` is. It was a 400 `MESSAGE_INVALID` naming `field: "subject"`, which the
 * redrive's request does not have. Given the dead letter (`deadLetter`), the message says what the
 * operator can do with it.
 */
export class SubscriptionSubjectMismatchError extends BrigadeError {
  constructor(subscription: string, pattern: string, subject: string, options: { cause?: unknown; deadLetter?: string } = {}) {
    const { deadLetter } = options;
    super(
      'SUBSCRIPTION_SUBJECT_MISMATCH',
      409,
      deadLetter === undefined
        ? `Subscription ${subscription} takes ${pattern}, not ${subject}: the message cannot be redelivered to it`
        : `Dead letter ${deadLetter} cannot go back: its subscription ${subscription} takes ${pattern}, not its subject ${subject} (its pattern changed since it was parked). ` +
            `If it should take it, change the subscription's pattern back, then redrive it again; or 'brigade dlq drop ${deadLetter}' if no subscription is to take it any more`,
      { details: deadLetter === undefined ? { subscription, pattern, subject } : { subscription, pattern, subject, deadLetter }, cause: options.cause },
    );
  }
}

/**
 * 400 `NO_SUCH_SUBSCRIPTION`: the subscription a dead-letter list or redrive was asked to keep to
 * (`brigade dlq list|redrive --all --subscription S`, `?subscription=` / `{ subscription }` of the admin
 * HTTP) names none: not in the registry, and no letter's. It was taken as one without letters, so a typo
 * answered "redriven 0 dead letter(s)" with success. `details.known` lists the names there are (the
 * registry's and the letters', sorted; at most {@link KNOWN_SUBSCRIPTIONS_SHOWN}).
 */
export class NoSuchSubscriptionError extends BrigadeError {
  /**
   * @param field Where the name came from, as the problem document's `field` says it: `subscription`
   *   (the option) unless a caller says more ({@link NoSuchSubscriptionError.at}).
   */
  constructor(
    readonly subscription: string,
    readonly known: readonly string[],
    readonly more: boolean,
    field = 'subscription',
  ) {
    const list = known.length === 0 ? 'none' : `${known.join(', ')}${more ? ', …' : ''}`;
    super('NO_SUCH_SUBSCRIPTION', 400, `no subscription named ${JSON.stringify(subscription)} (known: ${list})`, { details: { field, subscription, known } });
  }

  /**
   * The same error naming where the request carried the name (`querystring.subscription`,
   * `body.subscription`), as the HTTP routes' other 400s name their fields; it said a bare `subscription`.
   */
  at(field: string): NoSuchSubscriptionError {
    return new NoSuchSubscriptionError(this.subscription, this.known, this.more, field);
  }
}

/** How many names a {@link NoSuchSubscriptionError} lists at most. */
export const KNOWN_SUBSCRIPTIONS_SHOWN = 20;

/**
 * 404 `NOT_FOUND`: no dead letter has this id (or it is no id at all). A `NotFoundError` whose message
 * says where the ids are and why one may be gone, for `brigade dlq show|redrive|drop` and the admin HTTP.
 */
export class DeadLetterNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('Dead letter', id);
    this.message = `Dead letter ${id} not found: 'brigade dlq list' (GET /v1/admin/dead-letters) shows the ids; it may have been dropped, or redriven already (one whose handler failed again is parked under a new id, the same message id)`;
  }
}

/**
 * 409 `DEAD_LETTER_BUSY`: a redrive or drop of one dead letter found it locked by another redrive or
 * drop in flight. The letter is there (a `GET` shows it) and its fate is not known yet: the other may
 * still fail and leave it parked. It was answered 404 ("may have been redriven or dropped already"),
 * which told the caller it was gone while it might stay.
 */
export class DeadLetterBusyError extends BrigadeError {
  constructor(deadLetter: string, options: { cause?: unknown } = {}) {
    super(
      'DEAD_LETTER_BUSY',
      409,
      `Dead letter ${deadLetter} is being redriven or dropped right now: retry in a moment ('brigade dlq show ${deadLetter}' shows whether it is still parked)`,
      { details: { deadLetter }, cause: options.cause },
    );
  }
}

/**
 * 409: a page of dead letters was asked for after a letter that is no longer there (redriven or
 * dropped since the page that ended with it), so where that page starts is not known.
 */
export class DeadLetterCursorGoneError extends BrigadeError {
  constructor(before: string) {
    super(
      'DEAD_LETTER_CURSOR_GONE',
      409,
      `Dead letter ${before}, which the page starts after, is gone (redriven or dropped since): list again from the first page (without before / --before)`,
      { details: { before } },
    );
  }
}

/**
 * 502: a claim-check reference whose payload is no longer stored. Given the dead letter
 * (`deadLetter`) a redrive refused to send, the message says what the operator can do with it.
 */
export class ClaimCheckMissingError extends BrigadeError {
  constructor(sha256: string, options: { cause?: unknown; deadLetter?: string } = {}) {
    const { deadLetter } = options;
    super(
      'CLAIM_CHECK_MISSING',
      502,
      deadLetter === undefined
        ? `The payload ${sha256} of a claim-checked message is not stored (expired or never written)`
        : `Dead letter ${deadLetter} cannot go back: its claim-checked payload ${sha256} is no longer stored (purged), so it would only fail again. ` +
            `'brigade dlq show ${deadLetter}' shows what is left of it; 'brigade dlq drop ${deadLetter}' removes it`,
      { details: deadLetter === undefined ? { sha256 } : { sha256, deadLetter }, cause: options.cause },
    );
  }
}

/**
 * 503: a handler succeeded but its subscription's claim-check reference could not be released (the
 * database not answering). Reported through the subscription's `onError`, never thrown to the
 * transport: the message is acked all the same. The reference stays and keeps its payload.
 */
export class ClaimCheckReleaseError extends BrigadeError {
  constructor(messageId: string, subscription: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'CLAIM_CHECK_RELEASE_FAILED',
      503,
      `Message ${messageId} was handled by ${subscription}, but its claim-check reference could not be released (${reason}): ` +
        'the message is acked all the same; its payload stays stored (brigade_claim_check_payloads{state="held_past_grace"} once the grace is over)',
      { details: { messageId, subscription }, cause },
    );
  }
}

/**
 * 503: a message handled on a retry was acked, but its `brigade_bus.failures` row (the JetStream
 * transport's record of the earlier attempts) could not be deleted (the bus database not answering).
 * Reported through the subscription's `onError`, never thrown to the transport: the handler succeeded,
 * and a message left unacked for this would run again and at last be parked as exhausted. The row
 * stays; it is harmless, except that a later failure of the same message in the same subscription
 * (a redrive of another letter of it) would be dated from it.
 */
export class FailuresCleanupError extends BrigadeError {
  constructor(messageId: string, subscription: string, attempt: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'MESSAGE_FAILURES_CLEANUP_FAILED',
      503,
      `Message ${messageId} was handled by ${subscription} on attempt ${attempt} and acked, but its failures row could not be deleted (${reason}): ` +
        'the row stays in brigade_bus.failures, which is harmless',
      { details: { messageId, subscription, attempt }, cause },
    );
  }
}

/**
 * 400: a stream message the JetStream transport cannot take: published onto the stream outside the
 * platform (`nats pub`, a client in another language), with a body that is not JSON, no message id or
 * one that is not a UUID, or text PostgreSQL cannot store. It is parked at once, without running a
 * handler (its letter's error is this one's first line), so that it neither comes back for ever nor
 * holds a slot of the worker.
 */
export class UndecodableMessageError extends BrigadeError {
  constructor(where: { readonly stream: string; readonly sequence: number; readonly subject: string; readonly subscription: string }, problem: string, deadLetter: string) {
    super(
      'MESSAGE_UNDECODABLE',
      400,
      `Message ${where.sequence} of stream ${where.stream} on ${where.subject} (subscription ${where.subscription}) cannot be handled: ${problem}. ` +
        `The platform publishes JSON under a UUID message id; this one was published onto the stream outside the platform: fix its publisher, then 'brigade dlq drop ${deadLetter}'`,
      { details: { ...where, problem, deadLetter } },
    );
  }
}

/**
 * 409: a redrive of a dead letter whose message no handler could take ({@link UndecodableMessageError}:
 * published onto the stream outside the platform). Sent back, it would only be parked again: it stays,
 * and the message says to fix the publisher and drop it.
 */
export class DeadLetterUndecodableError extends BrigadeError {
  constructor(deadLetter: string, problem: string, sequence: string | undefined) {
    super(
      'DEAD_LETTER_UNDECODABLE',
      409,
      `Dead letter ${deadLetter} cannot go back: ${problem}${sequence === undefined ? '' : ` (message ${sequence} of the stream)`}, so no handler can take it; ` +
        `it was published onto the stream outside the platform. Fix its publisher (and publish what it meant again), then 'brigade dlq drop ${deadLetter}'`,
      { details: { deadLetter, problem } },
    );
  }
}

/**
 * 409: a dead letter was parked by one transport (`nats`, `postgres`) and the redrive runs on the
 * other. Both share the subscription registry, so the other would accept it, and the message would sit
 * where no worker of the subscription reads: the letter stays parked instead.
 */
export class DeadLetterTransportMismatchError extends BrigadeError {
  constructor(deadLetter: string, parkedBy: string, redriveOn: string) {
    const how =
      parkedBy === 'nats'
        ? 'run the redrive with NATS_URL set (the JetStream its subscription consumes from)'
        : parkedBy === 'postgres'
          ? 'run the redrive without NATS_URL (the PostgreSQL bus its subscription consumes from)'
          : `run the redrive on the ${parkedBy} transport`;
    super(
      'DEAD_LETTER_OTHER_TRANSPORT',
      409,
      `Dead letter ${deadLetter} was parked by the ${parkedBy} transport, and this redrive runs on the ${redriveOn} one, where no worker would read it: ${how}`,
      { details: { deadLetter, parkedBy, redriveOn } },
    );
  }
}

/**
 * 500: the message came back past its last attempt, which was never settled (its worker was lost
 * mid-handle, or its ack or dead letter was not stored): the dead-letter error of such a message.
 * `handled`: what the subscription's inbox check (`SubscribeOptions.handled`) said: `false`, it
 * holds no claim of the message, which was not handled; `'unknown'`, there is no check, or it failed
 * (`checkError`): the last run may have committed its work, and a redrive runs it again.
 */
export class AttemptsExhaustedError extends BrigadeError {
  constructor(attempts: number, handled: false | 'unknown' = 'unknown', checkError?: unknown) {
    const settled = `The last of ${attempts} attempts was never settled (its worker was lost mid-handle, or its ack or dead letter was not stored)`;
    const failed = checkError === undefined ? '' : ` (asking the consumer's inbox failed: ${checkError instanceof Error ? checkError.message : String(checkError)})`;
    super(
      'MESSAGE_ATTEMPTS_EXHAUSTED',
      500,
      handled === false
        ? `${settled}, and the consumer's inbox holds no claim of it: it was not handled. Redrive it once its cause is fixed`
        : `${settled}${failed}: its outcome is unknown: it may have been handled. Redrive it only if its handler is idempotent (an inbox), or once you checked that its effects are missing`,
      { details: { attempts, handled } },
    );
  }
}

/**
 * 503: a redrive of many dead letters stopped because the transport failed (the broker or the bus
 * database not answering), not because of a letter: `redriven` went back, `failed` could not (each
 * with why), and the rest stay parked for the next redrive.
 */
export class RedriveInterruptedError extends BrigadeError {
  constructor(redriven: number, failed: ReadonlyArray<{ readonly id: string; readonly subscription: string; readonly error: string }>, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'REDRIVE_INTERRUPTED',
      503,
      `The redrive stopped after ${redriven} dead letter(s) went back${failed.length > 0 ? ` and ${failed.length} could not` : ''}: the transport failed (${reason}). ` +
        'The rest stay parked: run the redrive again once it answers',
      { details: { redriven, failed }, cause },
    );
  }
}
