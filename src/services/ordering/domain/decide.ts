import { BrigadeError, ForbiddenError, NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { MAX_ORDER_TOTAL } from '../../../platform/money/index.ts';
import type { OrderCommand } from './orderCommands.ts';
import type { OrderEvent } from './orderEvents.ts';
import type { OrderState, OrderStatus } from './orderState.ts';

/**
 * The statuses each command may run in (for `cancel`: by staff or system; a customer may cancel only
 * while the order is `placed` ({@link CUSTOMER_CANCELS_FROM}), an admin also once it is picked up
 * ({@link ADMIN_CANCELS_FROM})). Everything else is a transition outside the lifecycle.
 */
export const ALLOWED_FROM: Readonly<Record<OrderCommand['type'], readonly OrderStatus[]>> = Object.freeze({
  place: ['none'],
  accept: ['placed'],
  reject: ['placed'],
  'mark-item-prepared': ['accepted'],
  ready: ['accepted'],
  'assign-courier': ['accepted', 'ready'],
  'unassign-courier': ['accepted', 'ready'],
  'raise-dispatch-alert': ['accepted', 'ready'],
  cancel: ['placed', 'accepted', 'ready'],
  'pick-up': ['ready'],
  deliver: ['picked_up'],
});

/** Statuses a customer may cancel in: before the restaurant accepts. */
export const CUSTOMER_CANCELS_FROM: readonly OrderStatus[] = Object.freeze(['placed']);

/**
 * Statuses an admin may cancel in: staff's, and also `picked_up`, then with a reason (decision 0088).
 * An order whose courier disappeared after the pick-up could otherwise never end: only its courier
 * delivers it, and nobody else could move it; payments (the customer's refund) and delivery waited
 * for ever. Its `OrderCancelled` names the courier who had it (`pickedUpBy`).
 */
export const ADMIN_CANCELS_FROM: readonly OrderStatus[] = Object.freeze(['placed', 'accepted', 'ready', 'picked_up']);

/**
 * A reason nobody can read: empty, or only white space, control characters and characters drawn as
 * nothing (U+200B, U+2060, U+FEFF, U+00AD, the joiners, the Hangul fillers: Default_Ignorable_Code_Point).
 * `trim()` left a lone U+200B, which the customer was shown as the reason of an admin's cancel.
 */
const UNREADABLE = /^[\p{White_Space}\p{Cc}\p{Default_Ignorable_Code_Point}]*$/u;

/** Statuses in which an order is over: nothing changes it any more. */
const FINISHED: readonly OrderStatus[] = Object.freeze(['delivered', 'rejected', 'cancelled']);

/** The statuses `command` may run in, for its sender. */
function allowedFrom(command: OrderCommand): readonly OrderStatus[] {
  return command.type === 'cancel' && command.by.kind === 'admin' ? ADMIN_CANCELS_FROM : ALLOWED_FROM[command.type];
}

/** What the sender of a forbidden command can do next, for the common cases; else where to look. */
function nextStep(state: OrderState, command: OrderCommand['type']): string {
  const notReady = state.status === 'placed' || state.status === 'accepted';
  if (command === 'deliver' && state.status === 'ready') return 'pick it up first (POST /v1/orders/{id}/pick-up), then deliver it';
  if (command === 'deliver' && notReady) return 'wait until the restaurant marks it ready, then pick it up and deliver it';
  if (command === 'pick-up' && notReady) return 'wait until the restaurant marks it ready, then pick it up';
  if (command === 'pick-up' && state.status === 'picked_up') return 'it is picked up already: deliver it (POST /v1/orders/{id}/deliver)';
  if (state.status === 'picked_up') {
    return 'the order is with its courier and can no longer be changed; only its courier can deliver it (an order lost in transit is cancelled by an admin: POST /v1/orders/{id}/cancel with a reason)';
  }
  if (FINISHED.includes(state.status)) return 'the order is finished and can no longer be changed';
  return `read the order (GET /v1/orders/${state.orderId ?? '{id}'}) for its status and what it takes now`;
}

/**
 * 422: the command is not allowed in the order's status. The message names both and says what to do
 * next (`next`: instead of the default {@link nextStep}); code and details stay stable for clients.
 */
function forbidden(state: OrderState, command: OrderCommand['type'], why = '', next = nextStep(state, command)): UnprocessableError {
  return new UnprocessableError('ORDER_TRANSITION_FORBIDDEN', `Cannot ${command} an order that is ${state.status}${why}: ${next}`, { orderStatus: state.status, command });
}

/**
 * Decides what a command does to an order: the events to append, or a typed error. Pure: no I/O,
 * no clock, no ids (the command carries them). An empty result means "already so" (assigning the
 * courier who is already assigned, recording a dispatch alert already recorded or made moot by an
 * assigned courier, taking off a courier who is no longer the order's or whose assignment was
 * followed by another) and appends nothing.
 *
 * @throws {UnprocessableError} `ORDER_TRANSITION_FORBIDDEN` (422) outside the lifecycle, naming the
 *   status and the command; `ORDER_CANCEL_REASON_REQUIRED` for an admin's cancel of a picked-up
 *   order without a reason; `ORDER_LINE_UNKNOWN`, `ORDER_ITEM_ALREADY_PREPARED`,
 *   `ORDER_COURIER_NOT_ASSIGNED`, `ORDER_EMPTY`, `ORDER_LINE_PRICE_INVALID`, `ORDER_TOTAL_TOO_HIGH`
 *   (above {@link MAX_ORDER_TOTAL}) for the finer rules.
 * @throws {NotFoundError} a command other than `place` on an order that does not exist, or a courier
 *   acting on an order not assigned to them (404, as for any order they may not see).
 * @throws {ForbiddenError} a role that may never issue the command (e.g. a courier cancelling).
 * @throws {BrigadeError} `ORDER_TOTAL_CHANGED` (409): a place whose `expectedTotal` is not the total of
 *   its priced lines; the details carry the new total and each line's price and item version.
 *
 * @example
 * const events = decide({ type: 'accept', by: staff, etaMinutes: 20 }, foldOrder(stream));
 */
export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  if (command.type !== 'place' && state.status === 'none') throw new NotFoundError('order');
  // The courier already assigned, assigned again, is done: by delivery (the system) in any status, since
  // its notice sent again after the pick-up (its acknowledgement lost) must not be refused, or the
  // dispatch drops the assignment and frees a courier who is still carrying the order; by staff or an
  // admin only where an assignment may be made (a finished order is outside the lifecycle: 422).
  if (command.type === 'assign-courier' && state.courierId === command.courierId && (command.by.kind === 'system' || allowedFrom(command).includes(state.status))) return [];
  if (!allowedFrom(command).includes(state.status)) throw forbidden(state, command.type);
  const orderId = state.orderId!;
  switch (command.type) {
    case 'place': {
      if (command.lines.length === 0) throw new UnprocessableError('ORDER_EMPTY', 'An order needs at least one line');
      const lines = command.lines.map((l) => ({
        lineId: l.lineId,
        itemId: l.itemId,
        itemVersion: l.itemVersion,
        name: l.name,
        unitPrice: l.unitPrice,
        quantity: l.quantity,
        modifiers: l.modifiers.map((m) => ({ modifierId: m.modifierId, name: m.name, priceDelta: m.priceDelta })),
        lineTotal: (l.unitPrice + l.modifiers.reduce((sum, m) => sum + m.priceDelta, 0)) * l.quantity,
      }));
      for (const [index, line] of lines.entries()) {
        if (!Number.isSafeInteger(line.lineTotal) || line.lineTotal < 0) {
          throw new UnprocessableError('ORDER_LINE_PRICE_INVALID', `Line ${index + 1} (item ${line.itemId}) would cost ${line.lineTotal}; change its modifiers or quantity`, {
            field: `lines.${index}`,
            itemId: line.itemId,
          });
        }
      }
      const total = lines.reduce((sum, l) => sum + l.lineTotal, 0);
      if (total > MAX_ORDER_TOTAL) {
        throw new UnprocessableError('ORDER_TOTAL_TOO_HIGH', `The order would cost ${total} (minor units), above the ${MAX_ORDER_TOTAL} one order may cost; split it into smaller orders`, {
          total,
          maxTotal: MAX_ORDER_TOTAL,
        });
      }
      if (command.expectedTotal !== undefined && command.expectedTotal !== total) {
        // The menu changed between the customer's look and the order: nobody pays a price they were not shown.
        throw new BrigadeError(
          'ORDER_TOTAL_CHANGED',
          409,
          `The order would cost ${total} ${command.currency}, not the ${command.expectedTotal} expected: the menu changed; show the customer the new prices and send the new total`,
          { details: { field: 'expectedTotal', expectedTotal: command.expectedTotal, total, currency: command.currency, lines: lines.map((l) => ({ itemId: l.itemId, itemVersion: l.itemVersion, unitPrice: l.unitPrice, lineTotal: l.lineTotal })) } },
        );
      }
      return [
        {
          type: 'OrderPlaced',
          data: {
            orderId: command.orderId,
            restaurantId: command.restaurantId,
            customerId: command.customerId,
            lines,
            total,
            currency: command.currency,
            deliveryAddress: command.deliveryAddress,
            placedAt: command.placedAt,
          },
        },
      ];
    }
    case 'accept':
      return [{ type: 'OrderAccepted', data: command.etaMinutes === undefined ? { orderId } : { orderId, etaMinutes: command.etaMinutes } }];
    case 'reject':
      return [{ type: 'OrderRejected', data: { orderId, reason: command.reason } }];
    case 'mark-item-prepared': {
      if (!state.lines.some((l) => l.lineId === command.lineId)) {
        throw new UnprocessableError('ORDER_LINE_UNKNOWN', `Order ${orderId} has no line ${command.lineId}: use a lineId from the order's lines (GET /v1/orders/${orderId})`, { lineId: command.lineId });
      }
      if (state.preparedLineIds.includes(command.lineId)) {
        throw new UnprocessableError('ORDER_ITEM_ALREADY_PREPARED', `Nothing to do: line ${command.lineId} of order ${orderId} is already prepared`, { lineId: command.lineId });
      }
      return [{ type: 'ItemPrepared', data: { orderId, lineId: command.lineId } }];
    }
    case 'ready':
      return [{ type: 'OrderReady', data: { orderId } }];
    case 'assign-courier':
      return [{ type: 'CourierAssigned', data: { orderId, courierId: command.courierId, assignment: state.assignments + 1 } }];
    case 'unassign-courier':
      if (command.by.kind !== 'system') throw new ForbiddenError('Only the delivery service takes a courier off an order (its pick-up deadline)');
      // Reassigned meanwhile (another courier, or the same one again: a new assignment has its own
      // deadline) or already taken off: the deadline belonged to an assignment that is over.
      if (state.courierId !== command.courierId || state.assignments !== command.assignment) return [];
      return [{ type: 'CourierUnassigned', data: { orderId, courierId: command.courierId, assignment: command.assignment, reason: command.reason } }];
    case 'raise-dispatch-alert': {
      if (command.by.kind !== 'system') throw new ForbiddenError('Only the delivery service raises a dispatch alert');
      // Already recorded, older than the one recorded (an earlier alert delivered again after a later
      // one), or moot: a courier was assigned meanwhile (by staff, or a later dispatch).
      const recorded = state.dispatchAlert;
      if (recorded !== null && (recorded.alertId === command.alertId || Date.parse(command.raisedAt) < Date.parse(recorded.raisedAt))) return [];
      if (state.courierId !== null) return [];
      const { alertId, attempts, reason, raisedAt } = command;
      return [{ type: 'DispatchAlertRaised', data: { orderId, alertId, attempts, reason, raisedAt } }];
    }
    case 'cancel': {
      const by = command.by.kind;
      if (by === 'courier') throw new ForbiddenError('A courier cannot cancel an order');
      if (by === 'customer' && !CUSTOMER_CANCELS_FROM.includes(state.status)) {
        throw forbidden(state, 'cancel', ' (a customer can cancel only before the restaurant accepts)', 'ask the restaurant to cancel it');
      }
      if (state.status === 'picked_up') {
        // Only an admin gets here (ADMIN_CANCELS_FROM). The customer reads the reason, and whoever
        // settles with the courier and the restaurant later needs it: it cannot be left out.
        if (UNREADABLE.test(command.reason)) {
          throw new UnprocessableError(
            'ORDER_CANCEL_REASON_REQUIRED',
            `Cancelling order ${orderId} after its pick-up needs a reason (e.g. "lost in transit: courier unreachable"): send it as reason; the customer sees it`,
            { field: 'reason', orderStatus: state.status },
          );
        }
        return [{ type: 'OrderCancelled', data: { orderId, by, reason: command.reason, ...(state.courierId === null ? {} : { pickedUpBy: state.courierId }) } }];
      }
      return [{ type: 'OrderCancelled', data: { orderId, by, reason: command.reason } }];
    }
    case 'pick-up':
      if (command.by.kind !== 'courier') throw new ForbiddenError('Only the assigned courier picks up an order');
      if (state.courierId === null) {
        throw new UnprocessableError('ORDER_COURIER_NOT_ASSIGNED', `Order ${orderId} has no courier assigned yet`, { orderStatus: state.status, command: 'pick-up' });
      }
      if (state.courierId !== command.by.id) throw new NotFoundError('order', orderId);
      return [{ type: 'OrderPickedUp', data: { orderId, courierId: command.by.id } }];
    case 'deliver':
      if (command.by.kind !== 'courier') throw new ForbiddenError('Only the assigned courier delivers an order');
      if (state.courierId !== command.by.id) throw new NotFoundError('order', orderId);
      return [{ type: 'OrderDelivered', data: { orderId, courierId: command.by.id } }];
  }
}
