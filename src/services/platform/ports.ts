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
  /**
   * Hands the orders assigned to the courier that they have not picked up back to dispatch at once
   * (decision 0040, "Fixed later (forty-ninth session, 7 Dec 2026)"), as a missed pick-up deadline
   * does: another courier gets them. `handedBack`: those orders (orders of theirs that stay, picked
   * up or over, are left out). Rejects when delivery or ordering could not be asked; asking again hands
   * back the rest.
   */
  handBackOrders(courierId: string): Promise<{ readonly handedBack: readonly string[] }>;
}

/** A restaurant's pause of new orders in force, as the menu shows it (decision 0094). */
export interface OrderPauseState {
  /** What its staff told customers, or null. */
  readonly reason: string | null;
  /** When it takes orders again by itself (RFC 3339 in UTC), or null: when its staff resume. */
  readonly until: string | null;
  /** When the pause was made (RFC 3339 in UTC). */
  readonly since: string;
}

/**
 * What the platform asks of the menu service, which keeps the pauses of new orders (decision 0094,
 * "Fixed later (forty-ninth session)"), to say in its directory (`GET /v1/restaurants`, `GET
 * /v1/restaurants/{rid}`) whether each restaurant takes new orders now. The composition root wires
 * menu's implementation; the platform never reads menu's tables.
 */
export interface OrderTaking {
  /**
   * The pauses in force now of the restaurants `ids`, by id: a restaurant that takes orders (no pause,
   * or one whose `until` has passed) is absent. `unread`: those whose state could not be read now (a
   * restaurant's own database that failed or did not answer in time). Rejects when none could be read.
   */
  pausesOf(ids: readonly string[]): Promise<{ readonly pauses: ReadonlyMap<string, OrderPauseState>; readonly unread: readonly string[] }>;
}

/** The platform service's ports. */
export interface PlatformPorts {
  readonly orders: OpenOrders;
  readonly dispatch: CourierDispatch;
  readonly orderTaking: OrderTaking;
}
