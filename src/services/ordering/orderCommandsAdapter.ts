import type { Actor } from '../../platform/db/index.ts';
import { ConcurrencyError, NotFoundError, UnprocessableError } from '../../platform/errors/index.ts';
import type { CommitStatementsFn } from '../../platform/tenancy/index.ts';
import type { OrderCommand } from './domain/orderCommands.ts';
import { messageLineage, type CommandCause } from './operations/lineage.ts';
import { loadOrderAndCommit } from './operations/loadOrder.ts';
import { runOrderCommand } from './operations/runOrderCommand.ts';
import { createOrderStore } from './orderStore.ts';
import type { DispatchAlert } from './domain/orderEvents.ts';
import type { OrderState, OrderStatus } from './domain/orderState.ts';

/** Statuses in which an order is over without delivery: a cancel finds nothing left to do. */
const ENDED_UNDELIVERED: ReadonlySet<OrderStatus> = new Set(['cancelled', 'rejected']);

/**
 * The in-process adapter other services' ports (and ordering's own consumers) use to command orders:
 * the delivery service's dispatch assigns couriers, the payments saga cancels orders it could not
 * charge, the dispatch-alerts consumer records that no courier was found. Runs ordering's
 * own command path as the `system` actor `actorId` (who appears in the order's events), at the
 * order's current version, retrying a few times when another command got there first. Every command
 * is idempotent: assigning the courier already assigned appends nothing; cancelling an order that
 * is already cancelled or rejected does nothing; an alert already recorded is not recorded again.
 *
 * Every method takes the command's `cause`: the message (or the saga's starting message) the caller
 * was handling. The events the command appends carry its id as their causation id, its correlation id
 * and its `traceparent`, and so do their outbox messages' headers. Without one (or with values that are
 * not UUIDs) the events have no causation and a correlation of their own, as an HTTP command without a
 * UUID request id.
 *
 * @example
 * const orders = orderCommands(deps, 'payments-saga');
 * await orders.cancelOrder({ restaurantId, orderId, reason: 'payment: card declined' }, { causationId: message.id, correlationId: message.headers.correlation });
 */
export function orderCommands(deps: { readonly commitStatements: CommitStatementsFn }, actorId = 'delivery-dispatch') {
  const { commitStatements } = deps;
  const store = createOrderStore();
  const by: Actor & { kind: 'system' } = { kind: 'system', id: actorId };

  /**
   * Runs the command `build(state)` gives on the order at its current version, with the lineage of
   * `cause`; `null` means the order is already as wanted (nothing to append). Retries on a version
   * conflict. Answers whether it appended events (false: `build` or `decide` found nothing to do).
   */
  const command = async (input: { readonly restaurantId: string; readonly orderId: string }, cause: CommandCause | undefined, build: (state: OrderState) => OrderCommand | null): Promise<boolean> => {
    const lineage = messageLineage(cause);
    const context = { service: 'ordering', tenantId: input.restaurantId, actor: by };
    for (let attempt = 0; ; attempt++) {
      const loaded = await loadOrderAndCommit(store, commitStatements, context, input.orderId);
      if (loaded === null) throw new NotFoundError('order', input.orderId);
      const wanted = build(loaded.state);
      if (wanted === null) return false;
      try {
        const after = await runOrderCommand({ commitStatements, store }, { context, orderId: input.orderId, expectedVersion: loaded.version, command: wanted, lineage, loaded });
        return after.version !== loaded.version;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= 3) throw error;
      }
    }
  };

  return {
    /**
     * Assigns `courierId` (ordering's `assign-courier`) to an order that has no courier; the same
     * courier again appends nothing.
     *
     * @throws {UnprocessableError} 422 `ORDER_COURIER_TAKEN` when the order has another courier (staff
     *   chose one meanwhile): the dispatch drops its assignment instead of overwriting theirs.
     */
    assignCourier: async (input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string }, cause?: CommandCause): Promise<void> => {
      await command(input, cause, ({ courierId }) => {
        if (courierId !== null && courierId !== input.courierId) {
          throw new UnprocessableError('ORDER_COURIER_TAKEN', `Order ${input.orderId} already has courier ${courierId}; the assignment of ${input.courierId} is dropped`, { courierId });
        }
        return { type: 'assign-courier', by, courierId: input.courierId };
      });
    },
    /**
     * Takes `courierId` off the order (`unassign-courier`) when they still have it by assignment number
     * `assignment` and have not picked it up: delivery's pick-up deadline, missed (decision 0040). The
     * order has no courier again (CourierUnassigned). Another courier or a later assignment by now (the
     * deadline belonged to an assignment that is over), or a courier already taken off, appends nothing.
     * Answers whether it took the courier off (appended CourierUnassigned).
     *
     * @throws {UnprocessableError} 422 `ORDER_TRANSITION_FORBIDDEN` for an order picked up, delivered,
     *   cancelled or rejected: the deadline does nothing.
     */
    unassignCourier: (input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string; readonly assignment: number; readonly reason: string }, cause?: CommandCause): Promise<boolean> =>
      command(input, cause, () => ({ type: 'unassign-courier', by, courierId: input.courierId, assignment: input.assignment, reason: input.reason })),
    /**
     * The order's courier as ordering has it (null: none), or null when there is no such order: a read
     * at the order's current version, appending nothing (delivery settles a staff reservation with it).
     */
    orderCourier: async (input: { readonly restaurantId: string; readonly orderId: string }): Promise<{ courierId: string | null } | null> => {
      const loaded = await loadOrderAndCommit(store, commitStatements, { service: 'ordering', tenantId: input.restaurantId, actor: by }, input.orderId);
      return loaded === null ? null : { courierId: loaded.state.courierId };
    },
    /**
     * Cancels the order (ordering's `cancel`, as a system actor: allowed while placed, accepted or
     * ready). An order already cancelled or rejected counts as done.
     *
     * @throws {UnprocessableError} 422 `ORDER_TRANSITION_FORBIDDEN` for an order picked up or delivered.
     */
    cancelOrder: async (input: { readonly restaurantId: string; readonly orderId: string; readonly reason: string }, cause?: CommandCause): Promise<void> => {
      await command(input, cause, ({ status }) => (ENDED_UNDELIVERED.has(status) ? null : { type: 'cancel', by, reason: input.reason }));
    },
    /**
     * Cancels the order only while it is `placed` (not accepted in time), at the version it was read at
     * (an accept in between wins: the cancel is tried again on the accepted order, and left), and
     * answers the status, `cancelled` when it is cancelled now or was before, else the status it has,
     * with the order's courier (for a delivered order, the one who delivered it).
     */
    expireOrder: async (
      input: { readonly restaurantId: string; readonly orderId: string; readonly reason: string },
      cause?: CommandCause,
    ): Promise<{ status: OrderStatus; courierId: string | null }> => {
      let seen: { status: OrderStatus; courierId: string | null } = { status: 'none', courierId: null };
      await command(input, cause, ({ status, courierId }) => {
        seen = { status, courierId };
        return status === 'placed' ? { type: 'cancel', by, reason: input.reason } : null;
      });
      return seen.status === 'placed' ? { ...seen, status: 'cancelled' } : seen;
    },
    /**
     * Records delivery's alert that no courier was found (`raise-dispatch-alert`); the same alert again,
     * or one for an order that has a courier by now, appends nothing.
     *
     * @throws {UnprocessableError} 422 for an order no longer waiting for a courier (picked up, finished).
     */
    raiseDispatchAlert: async (input: { readonly restaurantId: string; readonly orderId: string } & DispatchAlert, cause?: CommandCause): Promise<void> => {
      await command(input, cause, () => ({ type: 'raise-dispatch-alert', by, alertId: input.alertId, attempts: input.attempts, reason: input.reason, raisedAt: input.raisedAt }));
    },
  };
}
