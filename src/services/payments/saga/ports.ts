import type { MessageCause } from '../../../platform/messaging/index.ts';
import type { PaymentProviderClient } from '../provider/index.ts';

/**
 * What caused a command the saga sends: the message that started the saga (the order's
 * `OrderPlaced`). The receiving service records it on the events the command appends (causation,
 * correlation) and passes `traceparent` on.
 */
export type CommandCause = MessageCause;

/** What the payment saga asks of the ordering service: the command that cancels an order. */
export interface OrderCancellation {
  /**
   * Cancels the order as the payments service (a `system` actor). Must be idempotent: an order that
   * is already cancelled or rejected counts as done (a compensation runs again after a crash).
   * `cause`: see {@link CommandCause}.
   */
  cancelOrder(input: { readonly restaurantId: string; readonly orderId: string; readonly reason: string }, cause?: CommandCause): Promise<void>;
  /**
   * Cancels the order only while it is still `placed` (its restaurant did not accept in time), and
   * answers its status then, with its courier: `cancelled` when it is cancelled (now or before), else
   * the status that kept it (`accepted`, `ready`, `picked_up`, `delivered`, `rejected`). Idempotent.
   * `cause`: see {@link CommandCause}.
   */
  expireOrder(input: { readonly restaurantId: string; readonly orderId: string; readonly reason: string }, cause?: CommandCause): Promise<OrderExpiry>;
}

/** What {@link OrderCancellation.expireOrder} answers. */
export interface OrderExpiry {
  /** The order's status once the expiry was tried: `cancelled`, or the status that kept it. */
  readonly status: string;
  /**
   * The order's courier then, or `null`: for a `delivered` order the one who delivered it, whom the
   * saga pays when the order's own events never reached it.
   */
  readonly courierId: string | null;
}

/** Where the card to charge for an order comes from (the customer's payment method on file). */
export interface PaymentMethods {
  /** The card number to charge for this order. */
  cardFor(input: { readonly restaurantId: string; readonly customerId: string; readonly orderId: string }): Promise<string>;
}

/** The ports of {@link paymentSaga}. */
export interface PaymentSagaPorts {
  /** The payment provider (money moves only through idempotency-keyed calls). */
  readonly provider: PaymentProviderClient;
  readonly orders: OrderCancellation;
  readonly paymentMethods: PaymentMethods;
}
