import type { GlobalPosition } from '../../platform/events/index.ts';
import { formatPosition } from '../../platform/projections/index.ts';
import type { OrderState } from './domain/orderState.ts';

/** The body of `GET /v1/orders/:id` and of every command's response. */
export interface OrderView {
  readonly id: string;
  readonly restaurantId: string;
  /** The customer's id; `null` to a courier, who is not told whose order it is (`orderForCaller`, decision 0025). */
  readonly customerId: string | null;
  readonly status: Exclude<OrderState['status'], 'none'>;
  readonly lines: OrderState['lines'];
  readonly total: number;
  readonly currency: string;
  /** Where to deliver; `null` once the customer was erased (decision 0090). Sealed until the route reveals it. */
  readonly deliveryAddress: string | null;
  readonly placedAt: string;
  readonly etaMinutes: number | null;
  readonly preparedLineIds: readonly string[];
  readonly courierId: string | null;
  /** Delivery found no courier after its last attempt (the restaurant must act); null once one is assigned. */
  readonly dispatchAlert: OrderState['dispatchAlert'];
  readonly rejectReason: string | null;
  readonly cancelledBy: OrderState['cancelledBy'];
  readonly cancelReason: string | null;
  /** The stream version: the ETag, and the If-Match of the next command. */
  readonly version: number;
  /** Global position of the stream's last event (see {@link formatPosition}). */
  readonly position: string;
}

/** Shapes a folded (placed) order for HTTP. */
export function toOrderView(state: OrderState, version: number, position: GlobalPosition): OrderView {
  if (state.status === 'none') throw new Error('an order that was never placed has no view');
  return {
    id: state.orderId!,
    restaurantId: state.restaurantId!,
    customerId: state.customerId!,
    status: state.status,
    lines: state.lines,
    total: state.total,
    currency: state.currency!,
    deliveryAddress: state.deliveryAddress!,
    placedAt: state.placedAt!,
    etaMinutes: state.etaMinutes,
    preparedLineIds: state.preparedLineIds,
    courierId: state.courierId,
    dispatchAlert: state.dispatchAlert,
    rejectReason: state.rejectReason,
    cancelledBy: state.cancelledBy,
    cancelReason: state.cancelReason,
    version,
    position: formatPosition(position),
  };
}
