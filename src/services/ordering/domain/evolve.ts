import type { OrderEvent } from './orderEvents.ts';
import type { OrderState } from './orderState.ts';

/**
 * Applies one event to the state. Pure; never validates (events are facts: `decide` checked them
 * before they were stored). An event type it does not know leaves the state as it is, so an older
 * reader survives a newer writer.
 */
export function evolve(state: OrderState, event: OrderEvent): OrderState {
  switch (event.type) {
    case 'OrderPlaced': {
      const d = event.data;
      return {
        ...state,
        status: 'placed',
        orderId: d.orderId,
        restaurantId: d.restaurantId,
        customerId: d.customerId,
        lines: d.lines,
        total: d.total,
        currency: d.currency,
        deliveryAddress: d.deliveryAddress,
        placedAt: d.placedAt,
      };
    }
    case 'OrderAccepted':
      return { ...state, status: 'accepted', etaMinutes: event.data.etaMinutes ?? null };
    case 'OrderRejected':
      return { ...state, status: 'rejected', rejectReason: event.data.reason };
    case 'ItemPrepared':
      return state.preparedLineIds.includes(event.data.lineId) ? state : { ...state, preparedLineIds: [...state.preparedLineIds, event.data.lineId] };
    case 'OrderReady':
      return { ...state, status: 'ready' };
    case 'DispatchAlertRaised': {
      const { alertId, attempts, reason, raisedAt } = event.data;
      return { ...state, dispatchAlert: { alertId, attempts, reason, raisedAt } };
    }
    case 'CourierAssigned':
      return { ...state, courierId: event.data.courierId, assignments: state.assignments + 1, dispatchAlert: null };
    case 'CourierUnassigned':
      return state.courierId === event.data.courierId ? { ...state, courierId: null } : state;
    case 'OrderPickedUp':
      return { ...state, status: 'picked_up', courierId: event.data.courierId };
    case 'OrderDelivered':
      return { ...state, status: 'delivered' };
    case 'OrderCancelled':
      return { ...state, status: 'cancelled', cancelledBy: event.data.by, cancelReason: event.data.reason };
    default:
      return state;
  }
}
