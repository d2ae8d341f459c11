import type { MessageCause } from '../../platform/messaging/index.ts';
/**
 * What the delivery service asks of other services. The composition root wires implementations:
 * in-process adapters when the services run together, HTTP when they run apart. Delivery never reads
 * another service's tables.
 */

/** The restaurant directory (owned by the platform service): the city of an order's restaurant. */
export interface RestaurantDirectory {
  /** The restaurant and its city, or null when there is no such restaurant. */
  restaurant(id: string): Promise<{ readonly id: string; readonly city: string } | null>;
}

/** The courier directory (owned by the platform service): the city a courier works in, and their names. */
export interface CourierDirectory {
  /** The courier and their city, or null when there is no such courier. */
  courier(id: string): Promise<{ readonly id: string; readonly city: string } | null>;
  /**
   * The display names of the given couriers, by id; a courier the directory does not know is absent.
   * For the couriers staff may assign (`GET /restaurants/:rid/couriers`), which delivery knows by id only.
   */
  names(ids: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

/**
 * What caused a command delivery sends: the message delivery was handling (for an assignment, the
 * order event that queued the order). The receiving service records it on the events the command
 * appends (causation, correlation) and passes `traceparent` on.
 */
export type CommandCause = MessageCause;

/**
 * What delivery tells the ordering service. The dispatch gives up waiting for a call after its
 * `orderCallTimeoutMs` (below the notice lease) and takes it as a transient failure; the call is
 * abandoned, not cancelled, so it may still take effect afterwards: hence every command must be
 * idempotent, as each one says.
 */
export interface OrderCommands {
  /**
   * Assigns `courierId` to the order (ordering's `assign-courier` command, retried on a version
   * conflict). Must be idempotent: assigning the courier who is already assigned appends nothing.
   *
   * @throws {BrigadeError} with status 404 or 422 when the order can never take this courier (it is
   *   gone, cancelled, delivered, or has another courier): the dispatch drops the assignment. Any
   *   other error is taken as transient and retried with backoff.
   *
   * `cause`: the order event that queued the order, so that the assignment's event names it as its
   * causation and keeps its correlation and trace.
   */
  assignCourier(input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string }, cause?: CommandCause): Promise<void>;
  /**
   * Takes `courierId` off the order when they still have it by ordering's assignment number
   * `assignment` and have not picked it up (ordering's `unassign-courier`, retried on a version
   * conflict): the pick-up deadline, missed (decision 0040). Ordering appends `CourierUnassigned`,
   * which the order-events consumer applies, and answers true. Must be idempotent: another courier or
   * a later assignment by now, or the courier taken off already, appends nothing and answers false
   * (the deadline is settled, not missed).
   *
   * @throws {BrigadeError} with status 404 or 422 when the order can no longer lose the courier (it is
   *   gone, picked up, delivered, cancelled or rejected): the deadline does nothing. Any other error is
   *   taken as transient, and the deadline fires again after the notice lease.
   */
  unassignCourier(input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string; readonly assignment: number; readonly reason: string }, cause?: CommandCause): Promise<boolean>;
  /**
   * The courier ordering has recorded on the order (null: none yet), or null when there is no such
   * order. A read: the dispatch settles a staff reservation whose command may have failed with it
   * (decision 0084), without carrying the command out. Any error is taken as transient and retried.
   */
  orderCourier(input: { readonly restaurantId: string; readonly orderId: string }): Promise<{ readonly courierId: string | null } | null>;
}

/** The delivery service's ports. */
export interface DeliveryPorts {
  readonly restaurants: RestaurantDirectory;
  readonly couriers: CourierDirectory;
  readonly orders: OrderCommands;
}
