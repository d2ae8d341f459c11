import type { MessageHeaders } from '../messaging/index.ts';

/** A message as a producer hands it to {@link writeToOutbox}. */
export interface OutboxMessage {
  /** UUID (v7 preferred); the broker's dedupe key. Default: a new {@link newMessageId}. */
  readonly id?: string;
  /** `<service>.<aggregate>.<type>`, e.g. `ordering.order.OrderPlaced`. */
  readonly subject: string;
  /** The aggregate key (an order id): the relay keeps the order of messages with one key. */
  readonly key: string;
  /**
   * Lineage headers. `tenant` defaults to the transaction's tenant (and must equal it unless the actor is
   * `system`); `correlation` defaults to the message id; `causation` and `traceparent` to `''`.
   */
  readonly headers?: Partial<MessageHeaders>;
  /** Any JSON value. */
  readonly payload: unknown;
}
