/**
 * What the platform service asks of the ordering service before it erases a customer (decision 0090).
 * The composition root wires an implementation: in-process when the services run together. The
 * platform never reads ordering's tables.
 */
export interface OpenOrders {
  /** Ids of the customer's orders that are not delivered, rejected or cancelled yet (some, oldest first); empty when none. */
  openOrdersOf(customerId: string): Promise<readonly string[]>;
}

/**
 * What the platform asks of the delivery service when an admin revokes a courier's tokens (decision
 * 0007, "Fixed later (forty-seventh session, 7 Dec 2026)"): a courier who can no longer sign in must
 * not be given orders. The composition root wires delivery's implementation; the platform never writes
 * delivery's tables.
 */
export interface CourierDispatch {
  /**
   * Takes the courier off dispatch, as their own "Stop" does: offline now (`status` offline), or, while
   * they carry an order (`status` busy, `currentOrderId`), offline when it ends and no other order
   * meanwhile. Null when delivery's courier directory does not know the courier: nothing to take off.
   */
  takeOffDispatch(courierId: string): Promise<{ readonly status: 'available' | 'busy' | 'offline'; readonly currentOrderId: string | null } | null>;
}

/** The platform service's ports. */
export interface PlatformPorts {
  readonly orders: OpenOrders;
  readonly dispatch: CourierDispatch;
}
