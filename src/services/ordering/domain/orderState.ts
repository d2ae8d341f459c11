import type { CancelledBy, DispatchAlert, OrderLine } from './orderEvents.ts';

/** Where an order is in its lifecycle; `none` before it is placed. */
export type OrderStatus = 'none' | 'placed' | 'accepted' | 'ready' | 'picked_up' | 'delivered' | 'rejected' | 'cancelled';

/** The order as its events fold it: the write model's state and the body of `GET /v1/orders/:id`. */
export interface OrderState {
  readonly status: OrderStatus;
  readonly orderId: string | null;
  readonly restaurantId: string | null;
  readonly customerId: string | null;
  readonly lines: readonly OrderLine[];
  readonly total: number;
  readonly currency: string | null;
  readonly deliveryAddress: string | null;
  readonly placedAt: string | null;
  readonly etaMinutes: number | null;
  /** Lines marked prepared, in the order they were marked. */
  readonly preparedLineIds: readonly string[];
  /** The assigned courier (set by CourierAssigned, kept through pick-up and delivery; cleared by CourierUnassigned). */
  readonly courierId: string | null;
  /** How many CourierAssigned the order has had: the next one is `assignments + 1`. */
  readonly assignments: number;
  /** Set while dispatch found no courier (DispatchAlertRaised), cleared by CourierAssigned. */
  readonly dispatchAlert: DispatchAlert | null;
  readonly rejectReason: string | null;
  readonly cancelledBy: CancelledBy | null;
  readonly cancelReason: string | null;
}

/** The state before the first event. */
export const INITIAL_ORDER: OrderState = Object.freeze({
  status: 'none',
  orderId: null,
  restaurantId: null,
  customerId: null,
  lines: [],
  total: 0,
  currency: null,
  deliveryAddress: null,
  placedAt: null,
  etaMinutes: null,
  preparedLineIds: [],
  courierId: null,
  assignments: 0,
  dispatchAlert: null,
  rejectReason: null,
  cancelledBy: null,
  cancelReason: null,
});
