import type { RowState } from '../../../platform/projections/index.ts';
import type { EventStore, FoldEvent } from '../../../platform/events/index.ts';
import type { OrderEventType } from '../domain/orderEvents.ts';
import { defineOrderView } from './defineOrderView.ts';
import { dataOf, orderKey, STATUS_OF, uuidOrNull } from './orderEventsOf.ts';

/** A line on the board: what to cook and whether it is done. */
export interface BoardLine {
  readonly lineId: string;
  readonly itemId: string;
  readonly name: string;
  readonly quantity: number;
  readonly modifiers: readonly string[];
  readonly prepared: boolean;
}

/**
 * The fold of the restaurant live-board: one row per order with its lines (prepared or not), status,
 * times, courier, and the dispatch alert while delivery has found no courier for it (raised by
 * DispatchAlertRaised, cleared by CourierAssigned). Pure: every value comes from the events.
 */
export function evolveBoard(row: RowState | null, event: FoldEvent): RowState | undefined {
  const type = event.type as OrderEventType;
  const base = { updated_at: event.metadata.occurredAt, version: event.streamVersion };
  if (type === 'OrderPlaced') {
    const d = dataOf(event, 'OrderPlaced');
    const [tenantId, orderId] = orderKey(event)!;
    const lines: BoardLine[] = (Array.isArray(d.lines) ? d.lines : []).map((l) => ({
      lineId: String(l.lineId),
      itemId: String(l.itemId),
      name: String(l.name),
      quantity: Number(l.quantity),
      modifiers: Array.isArray(l.modifiers) ? (l.modifiers as ReadonlyArray<{ name?: unknown }>).map((m) => String(m.name)) : [],
      prepared: false,
    }));
    return {
      tenant_id: tenantId,
      order_id: orderId,
      status: 'placed',
      lines,
      total: Number(d.total) || 0,
      currency: String(d.currency ?? ''),
      placed_at: d.placedAt ?? event.metadata.occurredAt,
      accepted_at: null,
      ready_at: null,
      eta_minutes: null,
      courier_id: null,
      dispatch_alert: null,
      ...base,
    };
  }
  if (row === null) return undefined; // an order whose placement this view never saw
  switch (type) {
    case 'OrderAccepted': {
      const eta = dataOf(event, 'OrderAccepted').etaMinutes;
      return { ...row, ...base, status: 'accepted', accepted_at: event.metadata.occurredAt, eta_minutes: typeof eta === 'number' ? eta : null };
    }
    case 'ItemPrepared': {
      const lineId = dataOf(event, 'ItemPrepared').lineId;
      const lines = (row.lines as BoardLine[]).map((l) => (l.lineId === lineId ? { ...l, prepared: true } : l));
      return { ...row, ...base, lines };
    }
    case 'OrderReady':
      return { ...row, ...base, status: 'ready', ready_at: event.metadata.occurredAt };
    case 'DispatchAlertRaised': {
      const d = dataOf(event, 'DispatchAlertRaised');
      return { ...row, ...base, dispatch_alert: { alertId: String(d.alertId), attempts: Number(d.attempts), reason: String(d.reason), raisedAt: String(d.raisedAt) } };
    }
    case 'CourierAssigned':
      return { ...row, ...base, courier_id: uuidOrNull(dataOf(event, 'CourierAssigned').courierId), dispatch_alert: null };
    case 'CourierUnassigned':
      return row.courier_id === uuidOrNull(dataOf(event, 'CourierUnassigned').courierId) ? { ...row, ...base, courier_id: null } : { ...row, ...base };
    case 'OrderPickedUp':
      return { ...row, ...base, status: 'picked_up', courier_id: uuidOrNull(dataOf(event, 'OrderPickedUp').courierId) ?? row.courier_id };
    default: {
      const status = STATUS_OF[type];
      return status === undefined ? undefined : { ...row, ...base, status };
    }
  }
}

/** The restaurant live-board projection (`ordering.board_view`). */
export function boardProjection(store: EventStore) {
  return defineOrderView(store, {
    name: 'board',
    table: 'board_view',
    columns: {
      tenant_id: 'uuid',
      order_id: 'uuid',
      status: 'text',
      lines: 'jsonb',
      total: 'bigint',
      currency: 'text',
      placed_at: 'timestamptz',
      accepted_at: 'timestamptz',
      ready_at: 'timestamptz',
      eta_minutes: 'integer',
      courier_id: 'uuid',
      dispatch_alert: 'jsonb',
      updated_at: 'timestamptz',
      version: 'integer',
    },
    evolve: evolveBoard,
  });
}
