import { evolve } from './evolve.ts';
import type { OrderEvent } from './orderEvents.ts';
import { INITIAL_ORDER, type OrderState } from './orderState.ts';

/** Folds events (oldest first) onto `from` (default: the initial state). */
export function foldOrder(events: Iterable<Pick<OrderEvent, 'type' | 'data'>>, from: OrderState = INITIAL_ORDER): OrderState {
  let state = from;
  for (const event of events) state = evolve(state, event as OrderEvent);
  return state;
}
