/**
 * What the platform service asks of the ordering service before it erases a customer (decision 0090).
 * The composition root wires an implementation: in-process when the services run together. The
 * platform never reads ordering's tables.
 */
export interface OpenOrders {
  /** Ids of the customer's orders that are not delivered, rejected or cancelled yet (some, oldest first); empty when none. */
  openOrdersOf(customerId: string): Promise<readonly string[]>;
}

/** The platform service's ports. */
export interface PlatformPorts {
  readonly orders: OpenOrders;
}
