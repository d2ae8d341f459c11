import type { ReadKeys, SubjectKey } from '../../platform/temporal/index.ts';
/**
 * What the ordering service asks of the menu service. The composition root wires an implementation:
 * in-process (`menuCatalog` in src/services/menu/priceLinesAdapter.ts) when the services run
 * together, HTTP when they run apart. Ordering never reads the menu's tables.
 */
export interface MenuCatalog {
  /**
   * Prices the requested lines against the restaurant's live menu, one result per requested line, in
   * the same order, with the instant the prices were read at.
   *
   * @throws {NotFoundError} no such restaurant (404).
   * @throws a 409 `RESTAURANT_NOT_TAKING_ORDERS` while the restaurant's staff have paused new orders
   *   (decision 0094), with `until` and `reason` in its details: refused before anything is reserved or charged.
   * @throws {UnprocessableError} an item unknown, deleted or sold out (`MENU_ITEM_UNAVAILABLE`,
   *   `MENU_ITEM_SOLD_OUT`), or modifier choices that are unknown or break a group's min/max
   *   (`MODIFIER_CHOICE_INVALID`) (422).
   */
  priceLines(restaurantId: string, lines: readonly LineRequest[]): Promise<PricedLines>;
}

/** The requested lines as the menu prices them, and the instant it read them at. */
export interface PricedLines {
  /**
   * An instant (RFC 3339 in UTC, to the microsecond, on the menu database's clock) at which the menu's
   * history has every price of `lines` in force: read after the prices' snapshot, so every version
   * charged had started by then. The order's `placedAt`, so that `?asOf=<placedAt>` shows what it charged.
   */
  readonly pricedAt: string;
  /** One per requested line, in the same order. */
  readonly lines: PricedLine[];
}

/** A line the customer asks for. */
export interface LineRequest {
  readonly itemId: string;
  readonly quantity: number;
  readonly modifierIds: readonly string[];
}

/** A line as the menu prices it now. */
export interface PricedLine {
  readonly itemId: string;
  /** The item's version (its optimistic-concurrency version) the price was read at. */
  readonly itemVersion: number;
  readonly name: string;
  /** Minor units of `currency`, without modifiers. */
  readonly unitPrice: number;
  /** The restaurant's currency (ISO 4217). */
  readonly currency: string;
  readonly modifiers: ReadonlyArray<{ readonly modifierId: string; readonly name: string; readonly priceDelta: number }>;
}

/**
 * What the ordering service asks of the platform's restaurant directory: whether a restaurant exists,
 * so that an admin's read of an unknown restaurant's board is a 404 and not an empty board, its
 * city, which a courier assigned to its orders must serve, and where couriers pick its orders up.
 */
export interface RestaurantLookup {
  /** The restaurant, or `null` when the directory does not know `id`. */
  restaurant(id: string): Promise<{ readonly city: string } | null>;
  /**
   * Where couriers pick up the orders of the restaurants `ids`, by id: each one's name and pick-up
   * address (`null` until the restaurant has one); a restaurant the directory does not know is absent.
   * Asked as a courier's tasks are answered, so that an address changed after an order was placed
   * shows at once (decision 0040).
   */
  pickUpPlaces(ids: readonly string[]): Promise<ReadonlyMap<string, PickUpPlace>>;
}

/** Where a courier picks an order up: its restaurant's name and pick-up address (`null` until set). */
export interface PickUpPlace {
  readonly name: string;
  readonly pickupAddress: string | null;
}

/** What the ordering service asks of the platform's courier directory: a courier's city. */
export interface CourierLookup {
  /** The courier, or `null` when the directory does not know `id`. */
  courier(id: string): Promise<{ readonly city: string } | null>;
}

/**
 * What the ordering service asks of the delivery service when staff assign a courier: to take the
 * courier off the dispatch's market before ordering records the assignment (decision 0084). Delivery
 * learns of CourierAssigned only later, through the outbox; without the reservation its dispatch could
 * hand the courier another order in between.
 */
export interface CourierReservations {
  /**
   * Reserves `courierId` for the order: from its return, delivery's dispatch gives the courier no
   * other order (a courier busy with another order keeps it and takes this one next). `assignment`
   * is the number the CourierAssigned about to be appended carries. Idempotent.
   *
   * @throws delivery could not reserve (its error, such as 422 `RESTAURANT_UNKNOWN`, or 422 `COURIER_STOPPING` for a courier on a
   *   delivery who asked to stop after it): the assignment is refused, nothing is appended.
   */
  reserveCourier(input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string; readonly assignment: number }): Promise<void>;
}

/** The ordering service's ports. */
export interface OrderingPorts {
  readonly menu: MenuCatalog;
  readonly restaurants: RestaurantLookup;
  readonly couriers: CourierLookup;
  readonly reservations: CourierReservations;
  readonly customerKeys: CustomerKeys;
}

/**
 * What the ordering service asks of the platform, which owns customers: each customer's data key
 * (decision 0090). Ordering seals a customer's personal fields (an order's delivery address) under it
 * before they are appended, and opens them when it answers; erasing the customer destroys the key, and
 * those fields read as `null` everywhere they were copied.
 */
export interface CustomerKeys {
  /**
   * The customer's key, made on first use.
   *
   * @throws {SubjectErasedError} the customer was erased (410 `SUBJECT_ERASED`).
   */
  keyFor(customerId: string): Promise<SubjectKey>;
  /**
   * Whether the customer is erased (their key destroyed), read once an erasure of theirs in progress
   * has committed or rolled back: it waits for it. A placement asks after its own commit, so that an
   * erasure that did not see its order cannot have answered 204 unseen by it.
   */
  isErased(customerId: string): Promise<boolean>;
  /** The keys of the given key ids that exist (an erased customer's is missing): for `revealFields`. */
  readonly readKeys: ReadKeys;
}
