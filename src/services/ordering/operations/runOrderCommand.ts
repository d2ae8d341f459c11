import type { CommitStatementsFn, UnitOfWorkContext } from '../../../platform/db/index.ts';
import type { EventStore } from '../../../platform/events/index.ts';
import { ConcurrencyError, NotFoundError } from '../../../platform/errors/index.ts';
import { decide } from '../domain/decide.ts';
import { foldOrder } from '../domain/foldOrder.ts';
import type { OrderCommand } from '../domain/orderCommands.ts';
import type { OrderEvent } from '../domain/orderEvents.ts';
import { orderStreamId } from '../domain/orderEvents.ts';
import { toOrderView, type OrderView } from '../orderView.ts';
import type { CustomerKeys } from '../ports.ts';
import { indexCourier, unindexCourier } from './indexOrder.ts';
import { appendOptions, toNewEvents, type CommandLineage } from './lineage.ts';
import { loadOrderAndCommit, type LoadedOrder } from './loadOrder.ts';
import { hasPersonalFields, sealPersonalFields } from './sealPersonalFields.ts';

/** What running a command needs. */
export interface CommandEnv {
  readonly commitStatements: CommitStatementsFn;
  readonly store: EventStore;
  /**
   * The customers' keys, for a command whose events carry the customer's personal fields (a customer's
   * cancel reason, decision 0090): sealed under the order's customer's key before the append. Needed
   * only by callers that run customers' commands (the HTTP routes); a command that needs it without it
   * fails rather than append in the clear.
   */
  readonly customerKeys?: Pick<CustomerKeys, 'keyFor'>;
}

/**
 * Runs one command on one order: read the stream (a read-only transaction in one round trip) → check the expected
 * version → `decide` → append with the version read as the expected one, together with the order
 * index update and the outbox rows, as ONE transaction in one round trip (`appendAndCommit`).
 * `context` must carry the order's restaurant as its tenant.
 *
 * Why the read need not share the append's transaction: the append commits only if the stream is
 * still at the version read, so a command decided on a state that changed meanwhile is refused,
 * exactly as if read and append had been one transaction. Two commands that both read version N: the
 * first append commits N+1; the second finds the head at N+1 (or collides with it on the primary key
 * while it is uncommitted) and fails. Either way the loser gets 412 with the version and state it lost to.
 *
 * @throws {ConcurrencyError} (412) `expectedVersion` is not the stream's version, or another command
 *   appended first; `details.currentVersion` and `details.current` (the order now) let the client retry.
 * `loaded`: the order as the caller has just read it in this tenant (an adapter that read it to choose
 * the command; the HTTP route, which reads it before If-Match so that an order the caller cannot see
 * is a 404 first): used instead of reading it again; the append's version check guards it the same way.
 *
 * `beforeDecide`: what must hold outside the order, checked once the version matched and before
 * `decide` (staff's assign-courier asks the courier directory, 422): a stale version is a 412 first,
 * as for every command. Its error refuses the command.
 *
 * `beforeAppend`: what must be done after `decide` and before the append commits (staff's
 * assign-courier reserves the courier in delivery, decision 0084); its error refuses the command.
 *
 * The customer's personal fields of the decided events (the reason of a cancel the customer sent) are
 * sealed under the order's customer's key, read before `beforeAppend` (decision 0090); the order this
 * answers carries them sealed, as a read does (the caller opens them, once: a reason that merely looks
 * sealed is answered as written).
 *
 * @throws {NotFoundError} (404) no such order in the tenant. Plus whatever `decide` throws (422/403/404).
 * @throws {SubjectErasedError} (410) the events carry personal fields of a customer who was erased.
 */
export async function runOrderCommand(
  env: CommandEnv,
  input: {
    context: UnitOfWorkContext;
    orderId: string;
    expectedVersion: number;
    command: OrderCommand;
    lineage: CommandLineage;
    loaded?: LoadedOrder;
    beforeDecide?: () => Promise<void>;
    beforeAppend?: (events: readonly OrderEvent[]) => Promise<void>;
  },
): Promise<OrderView> {
  const { context, orderId, expectedVersion, command } = input;
  const conflict = (view: OrderView, reason?: unknown) =>
    new ConcurrencyError(expectedVersion, view.version, `Order ${orderId} is at version ${view.version}, not ${expectedVersion}; re-read it and retry`, {
      currentVersion: view.version,
      current: view,
      ...(reason === undefined ? {} : { reason }),
    });
  const read = () => loadOrderAndCommit(env.store, env.commitStatements, context, orderId);
  const loaded = input.loaded ?? (await read());
  if (loaded === null) throw new NotFoundError('order', orderId);
  const lastPosition = loaded.events.at(-1)!.globalPosition;
  if (loaded.version !== expectedVersion) throw conflict(toOrderView(loaded.state, loaded.version, lastPosition));
  await input.beforeDecide?.();
  const events = decide(command, loaded.state);
  if (events.length === 0) return toOrderView(loaded.state, loaded.version, lastPosition);
  let newEvents = toNewEvents(events, input.lineage);
  if (hasPersonalFields(newEvents)) {
    if (env.customerKeys === undefined) throw new Error(`order ${orderId}: ${command.type} records the customer's personal fields, and this caller has no customer keys to seal them with`);
    newEvents = sealPersonalFields(newEvents, await env.customerKeys.keyFor(loaded.state.customerId!));
  }
  await input.beforeAppend?.(events);
  const extra = events.flatMap((event) =>
    event.type === 'CourierAssigned'
      ? [indexCourier({ orderId, restaurantId: loaded.state.restaurantId!, courierId: event.data.courierId })]
      : event.type === 'CourierUnassigned'
        ? [unindexCourier({ orderId, restaurantId: loaded.state.restaurantId!, courierId: event.data.courierId })]
        : [],
  );
  try {
    const appended = await env.store.appendAndCommit(env.commitStatements, context, orderStreamId(orderId), newEvents, loaded.version, {
      ...appendOptions(input.lineage),
      extra,
    });
    // Folded as appended: the customer's fields sealed, as in every other answer, which the caller opens once.
    return toOrderView(foldOrder(newEvents as readonly OrderEvent[], loaded.state), appended.nextExpectedVersion, appended.events.at(-1)!.globalPosition);
  } catch (error) {
    // Lost the race at the append: report the order as the winner left it (a fresh read).
    if (error instanceof ConcurrencyError) {
      const now = await read();
      if (now !== null) throw conflict(toOrderView(now.state, now.version, now.events.at(-1)!.globalPosition), error.details.reason);
    }
    throw error;
  }
}
