import type { CommitStatementsFn, Tx, UnitOfWorkContext } from '../../../platform/db/index.ts';
import type { EventStore, RecordedEvent, StreamRead } from '../../../platform/events/index.ts';
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
  return foldRead(await store.readStream(tx, orderStreamId(orderId)));
}

/**
 * {@link loadOrder} as a read-only transaction of its own in one round trip (`commit`:
 * `commitStatements` or the tenant router's), `context`'s tenant being the order's restaurant.
 */
export async function loadOrderAndCommit(store: EventStore, commit: CommitStatementsFn, context: UnitOfWorkContext, orderId: string): Promise<LoadedOrder | null> {
  return foldRead(await store.readStreamAndCommit(commit, context, orderStreamId(orderId)));
}

function foldRead({ events, version }: StreamRead): LoadedOrder | null {
  if (events.length === 0) return null;
  return { state: foldOrder(events as unknown as OrderEvent[]), version, events };
}
