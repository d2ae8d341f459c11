import type { Actor } from '../../../platform/db/index.ts';
import type { EventMetadata } from '../../../platform/events/index.ts';

/** An answered event: what {@link eventsForCaller} may narrow. */
interface AnsweredEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

/**
 * An order's events as `caller` may see them. Staff of the restaurant and admins see every id. A
 * customer or a courier sees who acted by kind only, unless it was themselves or a service (`system`,
 * named by its service): not the staff member's id, the admin's name, the customer's id (to a courier)
 * or another courier's; and a `CourierAssigned` (or `CourierUnassigned`) of a courier who no longer has the order says
 * `courierId: null`. The order itself names its current courier, so that one stays. A courier is not
 * told the customer's id elsewhere either: `OrderPlaced`'s `data.customerId` and the key id of the
 * sealed fields (`metadata.encryption.keyId`, `customer:<id>`) read `null` to them (the fields
 * themselves are opened all the same: the key is found from the sealed value).
 *
 * @example
 * eventsForCaller(events, { kind: 'customer', id: customerId }, order.courierId);
 */
export function eventsForCaller<T extends AnsweredEvent>(events: readonly T[], caller: Actor, currentCourierId: string | null): T[] {
  if (caller.kind !== 'customer' && caller.kind !== 'courier') return [...events];
  const shown = (actor: Actor | null): Actor | Pick<Actor, 'kind'> | null =>
    actor === null || actor.kind === 'system' || (actor.kind === caller.kind && actor.id === caller.id) ? actor : { kind: actor.kind };
  const toCourier = caller.kind === 'courier';
  return events.map((event) => {
    const data = event.data as Record<string, unknown> | null;
    const formerCourier = (event.type === 'CourierAssigned' || event.type === 'CourierUnassigned') && data !== null && typeof data.courierId === 'string' && data.courierId !== currentCourierId;
    const customer = toCourier && event.type === 'OrderPlaced' && data !== null && 'customerId' in data;
    const { encryption } = event.metadata;
    return {
      ...event,
      data: formerCourier ? { ...data, courierId: null } : customer ? { ...data, customerId: null } : event.data,
      metadata: { ...event.metadata, actor: shown(event.metadata.actor), ...(toCourier && encryption !== undefined ? { encryption: { ...encryption, keyId: null } } : {}) },
    };
  });
}
