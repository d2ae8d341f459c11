import type { Tx } from '../../../platform/db/index.ts';
import type { EventStore, RecordedEvent } from '../../../platform/events/index.ts';
import { foldOrder } from '../domain/foldOrder.ts';
import { orderStreamId, type OrderEvent } from '../domain/orderEvents.ts';
import type { OrderState } from '../domain/orderState.ts';

/** An order read from its stream. */
export interface LoadedOrder {
  readonly state: OrderState;
  /** The stream version (number of events). */
  readonly version: number;
  readonly events: readonly RecordedEvent[];
}

/**
 * Reads an order's stream in the transaction's tenant and folds it; `null` when the stream is empty
 * (no such order in this tenant).
 */
export async function loadOrder(store: EventStore, tx: Tx, orderId: string): Promise<LoadedOrder | null> {
  const { events, version } = await store.readStream(tx, orderStreamId(orderId));
  if (events.length === 0) return null;
  return { state: foldOrder(events as unknown as OrderEvent[]), version, events };
}
