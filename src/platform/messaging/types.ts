import type pg from 'pg';
/** Headers every message carries (lineage); all strings, absent ones are empty. */
export interface MessageHeaders {
  /** The request or process this message belongs to. */
  readonly correlation: string;
  /** The id of the message or command that caused this one. */
  readonly causation: string;
  /** The tenant (restaurant) id, or `''` for platform-wide messages. */
  readonly tenant: string;
  /** W3C `traceparent`, or `''`. */
  readonly traceparent: string;
  /**
   * Further headers. Messages written through the outbox also carry `source` (the producing service),
   * `actor` (`kind:id`, or `''`) and `schema-version` (of the payload); `claim-check` is set by
   * {@link withClaimCheck}.
   */
  readonly [name: string]: string;
}

/** A message as a producer hands it to {@link Transport.publish}. */
export interface OutgoingMessage {
  /** UUID v7 ({@link newMessageId}); also the broker's dedupe key (JetStream `Nats-Msg-Id`). */
  readonly id: string;
  /** `<service>.<aggregate>.<type>`, e.g. `ordering.order.placed`. */
  readonly subject: string;
  /** The aggregate key (an order id): the unit of ordering for the relay, not for consumers (see {@link MessageHandler}). */
  readonly key: string;
  readonly headers: MessageHeaders;
  /** Any JSON value. */
  readonly payload: unknown;
}

/** A message as a handler receives it. */
export interface Message extends OutgoingMessage {
  /**
   * Which run of the handler this is, in this subscription: 1 the first, 2 the first retry, … A delivery
   * that ran no handler (it waited in a worker past its lease, a stopping worker gave it back) does not
   * count. On JetStream a run on the message's first delivery whose worker died is not counted either
   * (decision 0016, "Fixed later: attempts that ran…"); on PostgreSQL every run is counted as it starts
   * (decision 0015, "Fixed later (forty-fourth session…)").
   */
  readonly attempt: number;
}

/** Retry delays: exponential with jitter. See {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 200. */
  readonly initialMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Upper bound of one delay, in ms. Default 60 000. */
  readonly maxMs?: number;
}

/**
 * How a subscription's workers consume. Messages of one key reach the handler in no guaranteed order
 * (see {@link MessageHandler}).
 */
export interface SubscribeOptions {
  /** The subscription (a durable consumer); each subscription gets every message. `[a-z0-9_-]`. */
  readonly subscription: string;
  /** Handlers running at once in this worker. Default 1. */
  readonly concurrency?: number;
  /** Messages fetched ahead of the handlers (claimed but not yet running). Default = concurrency. */
  readonly prefetch?: number;
  /** Attempts before a message is dead-lettered. Default 5. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
  /** Stops the worker: no new claims; handlers in flight finish. */
  readonly signal: AbortSignal;
  /** Called with errors of the worker loop itself (broker or database unreachable); it keeps retrying. */
  readonly onError?: (error: unknown) => void;
  /**
   * Says whether a message was handled already: the consumer's inbox holds its claim. Asked only of a
   * message delivered again past its last attempt, whose last run was never settled (its worker was
   * lost between the handler's commit and the ack, or its ack was not stored): `true`, the message is
   * acked, not dead-lettered; `false`, it is parked as not handled. Without it (or when it throws) the
   * letter says the outcome is unknown: the last run may have been handled. The handler is not run
   * then, and on a claim-checked message the payload is not put back (the check needs only its id).
   * {@link inboxHandler} gives it as its `handled`.
   *
   * @example
   * const handler = inboxHandler({ subscription: 'delivery-orders', schema: 'delivery', transaction, handle });
   * transport.subscribe({ subscription: 'delivery-orders', handled: handler.handled, signal }, handler);
   */
  readonly handled?: (message: Message) => Promise<boolean>;
}

/**
 * Handles one message. Resolve to ack; throw to retry (after the backoff) or, after the last attempt,
 * dead-letter the message with the thrown error. Must be idempotent: delivery is at-least-once (use
 * {@link inboxHandler} to make the side effects happen once). Per-key order (a message's `key`) holds at
 * the relay, not at the consumer: a retry lets later messages of the same key run first, and
 * `concurrency` above 1 (or competing workers) runs them at once, so a handler must not assume that a
 * key's messages arrive in the order they were written.
 */
export type MessageHandler = (message: Message) => Promise<void>;

/** A running subscription worker. */
export interface Subscription {
  /** Resolves once the worker stopped (after `signal` aborted) and its handlers finished. */
  readonly done: Promise<void>;
}

/** Provisioning of a subscription: the durable consumer and the subjects it receives. */
export interface SubscriptionSpec {
  /** Name, `[A-Za-z0-9_-]{1,64}`. */
  readonly subscription: string;
  /** NATS-style subject pattern: `ordering.order.*`, `ordering.>`. */
  readonly pattern: string;
  /** How long an attempt may run before another worker may take it over, in ms. Default 30 000. */
  readonly leaseMs?: number;
}

/**
 * The message bus. Two implementations pass the same contract tests: {@link createPgTransport}
 * (embedded default) and {@link createNatsTransport} (JetStream, production).
 */
export interface Transport {
  /** `'postgres'` or `'nats'`. */
  readonly kind: string;
  /**
   * Publishes a batch. Resolves only after the broker (or database) durably accepted every message,
   * so the relay may mark its rows done then. A message id seen before is accepted and not delivered
   * again (dedupe).
   */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  /**
   * Creates the subscription (durable consumer) if missing; idempotent. A subscription gets every
   * message published after its creation (once `ensureSubscription` resolved), none published before:
   * create it before the messages it must see are published (decision 0015, "Later"). Calling it
   * again (a restart, a changed pattern or lease) keeps its place.
   */
  ensureSubscription(spec: SubscriptionSpec): Promise<void>;
  /** Starts a worker of a subscription made with {@link ensureSubscription}; workers of one subscription compete. */
  subscribe(options: SubscribeOptions, handler: MessageHandler): Subscription;
  /**
   * Delivers a message again to one subscription only (dead-letter redrive), with the same message id,
   * so the consumer's inbox still recognises it. Attempts start again at 1. Every transport refuses,
   * sending nothing, a subscription that does not exist (`UnknownSubscriptionError`) and one
   * whose pattern does not take the message's subject (`SubscriptionSubjectMismatchError`, 409):
   * either would take the message into nothing.
   */
  redeliver(subscription: string, message: OutgoingMessage): Promise<void>;
  /** Stops accepting work and releases connections (after the workers were aborted). */
  close(): Promise<void>;
  /**
   * Set by the PostgreSQL transport: the pool of the database that holds its bus tables. A relay whose
   * outbox is in the same database (the same pool) publishes with one INSERT … SELECT from the outbox
   * instead of reading the rows out and sending them back (docs/decisions/0056).
   */
  readonly busPool?: pg.Pool;
}
