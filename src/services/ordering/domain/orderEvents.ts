/**
 * The order stream's events (schema version 1 of each). These names and fields are a contract: the
 * read models, the delivery service and the payments saga consume them. Change a shape only with a
 * new schema version and an upcaster.
 */

/** A modifier chosen on a line, priced at placement. */
export interface LineModifier {
  readonly modifierId: string;
  readonly name: string;
  /** Minor units added to the unit price (may be negative). */
  readonly priceDelta: number;
}

/** One line of an order, as the menu priced it at placement. */
export interface OrderLine {
  /** Id of the line within the order (a UUID), named by `mark-item-prepared`. */
  readonly lineId: string;
  readonly itemId: string;
  /** The menu item's version when it was priced. */
  readonly itemVersion: number;
  readonly name: string;
  /** The item's price in minor units, without modifiers. */
  readonly unitPrice: number;
  readonly quantity: number;
  readonly modifiers: readonly LineModifier[];
  /** (unitPrice + Σ priceDelta) × quantity, in minor units. */
  readonly lineTotal: number;
}

/** Why an order has no courier: delivery's alert, as the order records it. */
export interface DispatchAlert {
  /** Delivery's alert id (the same alert recorded twice appends nothing). */
  readonly alertId: string;
  /** Dispatch attempts made without a courier. */
  readonly attempts: number;
  readonly reason: string;
  /** ISO-8601 instant of delivery's decision. */
  readonly raisedAt: string;
}

/** Who cancelled an order. */
export type CancelledBy = 'customer' | 'staff' | 'admin' | 'system';

/** Data of each event type, by type. */
export interface OrderEventData {
  OrderPlaced: {
    readonly orderId: string;
    readonly restaurantId: string;
    readonly customerId: string;
    readonly lines: readonly OrderLine[];
    /** Σ lineTotal, in minor units. */
    readonly total: number;
    readonly currency: string;
    readonly deliveryAddress: string;
    /** ISO-8601 instant. */
    readonly placedAt: string;
  };
  OrderAccepted: { readonly orderId: string; readonly etaMinutes?: number };
  OrderRejected: { readonly orderId: string; readonly reason: string };
  ItemPrepared: { readonly orderId: string; readonly lineId: string };
  OrderReady: { readonly orderId: string };
  /**
   * `assignment` numbers the order's assignments (1, 2, …; the stream decides it, no clock does), so a
   * consumer tells a late, older assignment from the newer one it applied (delivery). Absent in events
   * recorded before it existed (December 2026).
   */
  CourierAssigned: { readonly orderId: string; readonly courierId: string; readonly assignment?: number };
  /**
   * Assignment number `assignment` of `courierId` is over without a pick-up: the order has no courier
   * again and goes back to dispatch (delivery's pick-up deadline, missed: decision 0040). `reason` says why.
   */
  CourierUnassigned: { readonly orderId: string; readonly courierId: string; readonly assignment: number; readonly reason: string };
  /**
   * The delivery service found no courier for the order after its last attempt (its
   * `delivery.dispatch.DispatchFailed`): the restaurant must act. A later CourierAssigned ends it.
   */
  DispatchAlertRaised: DispatchAlert & { readonly orderId: string };
  OrderPickedUp: { readonly orderId: string; readonly courierId: string };
  /** `courierId`: who delivered it (absent in events recorded before December 2026); payments pays them. */
  OrderDelivered: { readonly orderId: string; readonly courierId?: string };
  /**
   * `pickedUpBy`: only on an order cancelled after its pick-up (by an admin: lost in transit, decision
   * 0088), the courier who had it; delivery takes them off dispatch instead of freeing them.
   */
  OrderCancelled: { readonly orderId: string; readonly by: CancelledBy; readonly reason: string; readonly pickedUpBy?: string };
}

/** An order event type. */
export type OrderEventType = keyof OrderEventData;

/** An order event: its type and data (the store adds the envelope). */
export type OrderEvent = { [T in OrderEventType]: { readonly type: T; readonly data: OrderEventData[T] } }[OrderEventType];

/** Every order event type, in lifecycle order. */
export const ORDER_EVENT_TYPES: readonly OrderEventType[] = Object.freeze([
  'OrderPlaced',
  'OrderAccepted',
  'OrderRejected',
  'ItemPrepared',
  'OrderReady',
  'DispatchAlertRaised',
  'CourierAssigned',
  'CourierUnassigned',
  'OrderPickedUp',
  'OrderDelivered',
  'OrderCancelled',
]);

/** The stream of an order: `order-<orderId>`. */
export const orderStreamId = (orderId: string) => `order-${orderId}`;
