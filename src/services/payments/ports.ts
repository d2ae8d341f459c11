import type { Principal } from '../../platform/auth/index.ts';
import type { OrderCancellation } from './saga/ports.ts';

/** The customers' cards on file (owned by the platform service). */
export interface CardsOnFile {
  /** The card number a customer keeps on file, or `null` when they keep none. Read at charge time, never copied. */
  cardOf(customerId: string): Promise<string | null>;
}

/** Who may see an order (the ordering service decides, as for `GET /v1/orders/:id`). */
export interface OrderAccess {
  /** The order's restaurant when `reader` may read the order (its customer, the restaurant's staff, its courier, an admin), else `null`. */
  restaurantOf(reader: Principal, orderId: string): Promise<string | null>;
}

/**
 * What the payments service asks of other services; the composition root wires in-process adapters
 * when they run together. Payments never reads another service's tables.
 */
export interface PaymentsPorts {
  /** Ordering's cancel, for the saga's compensation. */
  readonly orders: OrderCancellation;
  readonly cards: CardsOnFile;
  readonly orderAccess: OrderAccess;
}
