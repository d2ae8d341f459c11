import type { DispatchAlert, LineModifier } from './orderEvents.ts';

/** Who issues a command (from the token, or `system` for a process such as the delivery service). */
export interface CommandActor {
  readonly kind: 'customer' | 'staff' | 'courier' | 'admin' | 'system';
  readonly id: string;
}

/** A line as the menu priced it, with the line id the handler chose. `decide` computes its total. */
export interface PricedLineInput {
  readonly lineId: string;
  readonly itemId: string;
  readonly itemVersion: number;
  readonly name: string;
  readonly unitPrice: number;
  readonly quantity: number;
  readonly modifiers: readonly LineModifier[];
}

/**
 * The order's commands. Everything non-deterministic (ids, the clock, prices from the menu) is
 * resolved by the handler and carried in the command, so `decide` stays pure.
 */
export type OrderCommand =
  | {
      readonly type: 'place';
      readonly by: CommandActor;
      readonly orderId: string;
      readonly restaurantId: string;
      readonly customerId: string;
      readonly lines: readonly PricedLineInput[];
      readonly currency: string;
      readonly deliveryAddress: string;
      /** ISO-8601 instant. */
      readonly placedAt: string;
      /** The total (minor units) the customer was shown; another total is refused with 409 `ORDER_TOTAL_CHANGED`. */
      readonly expectedTotal?: number;
    }
  | { readonly type: 'accept'; readonly by: CommandActor; readonly etaMinutes?: number }
  | { readonly type: 'reject'; readonly by: CommandActor; readonly reason: string }
  | { readonly type: 'mark-item-prepared'; readonly by: CommandActor; readonly lineId: string }
  | { readonly type: 'ready'; readonly by: CommandActor }
  | { readonly type: 'assign-courier'; readonly by: CommandActor; readonly courierId: string }
  /**
   * Takes `courierId` off the order, for assignment number `assignment` only (system only; no HTTP
   * route): delivery's pick-up deadline, missed (decision 0040). Another courier or a later assignment
   * by now appends nothing.
   */
  | { readonly type: 'unassign-courier'; readonly by: CommandActor; readonly courierId: string; readonly assignment: number; readonly reason: string }
  /** Records delivery's alert that no courier was found (system only; no HTTP route). */
  | ({ readonly type: 'raise-dispatch-alert'; readonly by: CommandActor } & DispatchAlert)
  | { readonly type: 'cancel'; readonly by: CommandActor; readonly reason: string }
  | { readonly type: 'pick-up'; readonly by: CommandActor }
  | { readonly type: 'deliver'; readonly by: CommandActor };

/** A command name, as in the URL (`POST /v1/orders/:id/<name>`); `raise-dispatch-alert` has none. */
export type OrderCommandType = OrderCommand['type'];

