import { uuidv7, type AppendResult, type EventStore } from '../../../platform/events/index.ts';
import { BrigadeError, ConcurrencyError, UnprocessableError } from '../../../platform/errors/index.ts';
import { SubjectErasedError } from '../../../platform/temporal/index.ts';
import type { TenantRouter, UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { decide } from '../domain/decide.ts';
import { foldOrder } from '../domain/foldOrder.ts';
import { orderStreamId, type OrderEvent } from '../domain/orderEvents.ts';
import type { CommandActor } from '../domain/orderCommands.ts';
import { INITIAL_ORDER } from '../domain/orderState.ts';
import { toOrderView, type OrderView } from '../orderView.ts';
import type { CustomerKeys, MenuCatalog } from '../ports.ts';
import { placementHashes } from '../requestHash.ts';
import { awaitKeyClaim } from './awaitKeyClaim.ts';
import { claimIdempotencyKey, claimStatement } from './claimIdempotencyKey.ts';
import { findIdempotencyKey, type IdempotencyRecord } from './findIdempotencyKey.ts';
import { indexOrder } from './indexOrder.ts';
import { appendOptions, toNewEvents, type CommandCause, type CommandLineage } from './lineage.ts';
import { loadOrder } from './loadOrder.ts';
import { lockIdempotencyKeyStatement } from './lockIdempotencyKey.ts';
import { sealPersonalFields } from './sealPersonalFields.ts';

/** The body of `POST /v1/orders`. */
export interface PlaceOrderBody {
  readonly restaurantId: string;
  readonly deliveryAddress: string;
  readonly lines: ReadonlyArray<{ readonly itemId: string; readonly quantity: number; readonly modifierIds?: readonly string[] }>;
  /** The total (minor units) the customer was shown: when the menu prices the lines otherwise, 409 `ORDER_TOTAL_CHANGED`. */
  readonly expectedTotal?: number;
}

/** What placing needs. */
export interface PlaceOrderEnv {
  readonly unitOfWork: UnitOfWorkFn;
  /** A look-up without a tenant in every database (`deps.placements.findInEveryDatabase`): a key is looked up wherever it was claimed. */
  readonly findInEveryDatabase: TenantRouter['findInEveryDatabase'];
  /** Where the process believes a restaurant lives (`deps.placements.placementOf`): an order elsewhere than the shared database reserves its key there first. */
  readonly placementOf: TenantRouter['placementOf'];
  readonly store: EventStore;
  readonly menu: MenuCatalog;
  /** The customer's data key: the delivery address is sealed under it (decision 0090). */
  readonly customerKeys: CustomerKeys;
  /**
   * Cancels an order as the system actor `customer-erasure` (`orderCommands(deps, 'customer-erasure').cancelOrder`):
   * the placement's own order, when its customer turns out erased after its commit.
   */
  readonly cancelOrder: (input: { readonly restaurantId: string; readonly orderId: string; readonly reason: string }, cause?: CommandCause) => Promise<void>;
}

/** The reason an order is cancelled with when its customer was erased while it was being placed. */
export const ERASED_WHILE_PLACED = 'the customer was erased while the order was being placed';

/** The outcome: the order, and whether this call created it (201) or replayed a key (200). */
export interface PlaceOrderResult {
  readonly order: OrderView;
  readonly created: boolean;
}

/** Thrown inside the order's transaction when it runs in a restaurant's own database without a reservation of its key. */
class KeyNotReserved extends Error {}

const UNIQUE_VIOLATION = '23505';

/** Thrown inside the order's transaction when its claim found the key held by a live record: the transaction rolls back. */
class KeyTaken extends Error {}

/**
 * Places an order under an idempotency key.
 *
 * 1. A known, unexpired key of this customer, in any database (a key is claimed in its restaurant's
 *    transaction, so a moved restaurant's keys are in its own database, decision 0008): same body → the
 *    order it made (`created: false`); another body → 422 `IDEMPOTENCY_KEY_REUSED`, whichever restaurant
 *    either body names (decision 0026: a key is the customer's across restaurants). The menu is not asked again.
 * 2. Otherwise the menu prices the lines (its own read transaction, before ours opens: no request
 *    holds two connections), `decide` makes OrderPlaced, and ONE transaction (tenant = restaurant)
 *    claims the key, writes the order index and appends the event, the three sent as one batch. A
 *    concurrent duplicate that claimed the key first makes this claim come back empty: the transaction
 *    rolls back, nothing is appended, and the winner's record is replayed.
 * 3. At a restaurant in a database of its own, the key is first reserved in the shared database, in a
 *    transaction of its own (ordering migration 0037): no transaction spans two databases, so without it
 *    two claims of one key racing at restaurants of two databases would both be taken. A reservation
 *    binds the key to this body and names the order id; the restaurant's claim then decides between
 *    identical requests as in 2. It is made once the menu and `decide` accepted the body, so a refused
 *    body leaves the key free; a placement that fails after it leaves the key bound to its body, which a
 *    retry places under the reserved order id, renewing the reservation.
 * 4. A body the menu or `decide` refuses (sold out, `ORDER_TOTAL_CHANGED`, …) is refused only once no
 *    placement of the key is in flight in the restaurant's database (`awaitKeyClaim` waits on the
 *    key's advisory lock, which every order's transaction takes first, in the batch of its claim): the
 *    look-up in 1 cannot see an uncommitted claim, and a retry of a request whose first attempt, priced
 *    before the menu changed, is committing answers that attempt's order instead (decision 0026, Fixed
 *    later). An accepted placement never runs it; a refused one pays one transaction.
 *
 * The request's hash is an HMAC under the customer's data key, read first (`placementHashes`): the body
 * holds the address, and the key's row keeps the hash for 24 hours, which after the customer's erasure
 * nobody can test a guess against. It takes each line's modifiers sorted (a set to the menu); a key
 * claimed before either change, holding an unkeyed hash, still answers its body.
 *
 * The delivery address is appended sealed under the customer's data key (decision 0090); the order
 * this answers carries it as given, and a replay's carries it sealed (the caller reveals it). An erased
 * customer is refused before anything, a replay of a key of theirs too (410).
 *
 * 5. The key is read before the order's transaction, which may run in another database (a moved
 *    restaurant's) than the keys, so an erasure may commit in between without seeing the order. Once
 *    its transaction has committed, a placement asks whether its customer is erased, waiting for an
 *    erasure in progress (`CustomerKeys.isErased`); if so it cancels its order at once, as the system
 *    actor `customer-erasure` ({@link ERASED_WHILE_PLACED}), and answers 410. An erasure looks for open
 *    orders after destroying the key, in its transaction: either it sees this order (409, rolled back)
 *    or it destroyed the key before this order committed, and this check sees that (decision 0090).
 *
 * @throws {UnprocessableError} `IDEMPOTENCY_KEY_REUSED`, `ORDER_CURRENCY_MIXED`, the menu's 422s.
 * @throws {SubjectErasedError} the customer was erased (410 `SUBJECT_ERASED`), before the placement
 *   (a replay of a key placed before the erasure too) or while it was placed (its order then cancelled).
 * @throws {BrigadeError} `ORDER_TOTAL_CHANGED` (409): `expectedTotal` sent and the menu now prices the
 *   lines to another total (checked before the key is claimed: the key stays free for the new total).
 */
export async function placeOrder(env: PlaceOrderEnv, input: { customerId: string; key: string; body: PlaceOrderBody; lineage: CommandLineage }): Promise<PlaceOrderResult> {
  const { customerId, key } = input;
  const body = {
    restaurantId: input.body.restaurantId,
    deliveryAddress: input.body.deliveryAddress,
    lines: input.body.lines.map((l) => ({ itemId: l.itemId, quantity: l.quantity, modifierIds: [...(l.modifierIds ?? [])] })),
    // Part of the request's hash when sent (a body without it hashes as before it existed).
    expectedTotal: input.body.expectedTotal,
  };
  // The customer's key, read (or made) in a transaction of its own like the pricing: an erased customer
  // is refused (410) here, a replay of their key too. The request's hash is keyed by it.
  const customerKey = await env.customerKeys.keyFor(customerId);
  // Modifiers hashed sorted (a line's modifiers are a set); `matches` also knows the unkeyed hashes
  // that keys claimed before hold.
  const hashes = placementHashes(body, customerKey);
  /** The hash this request claims with: its own, unless the key is reserved under an earlier one. */
  let hash = hashes.hash;
  const isThisBody = (record: IdempotencyRecord) => hashes.matches(record.requestHash);
  const actor: CommandActor = { kind: 'customer', id: customerId };

  const sameBody = (record: IdempotencyRecord) => {
    if (!isThisBody(record)) {
      throw new UnprocessableError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key)} was used for a different request; use a new key for a new order`, {
        orderId: record.orderId,
      });
    }
  };
  const replay = async (record: IdempotencyRecord): Promise<PlaceOrderResult> => {
    sameBody(record);
    if (record.reservation) {
      // Only a restaurant of the shared database claims there, and it reserves nothing (moves go one way).
      throw new BrigadeError('IDEMPOTENCY_KEY_IN_FLIGHT', 409, `Idempotency-Key ${JSON.stringify(key)} is reserved by a placement that has not finished; retry the request`);
    }
    const loaded = await env.unitOfWork({ service: 'ordering', tenantId: record.restaurantId, actor, readOnly: true }, (tx) => loadOrder(env.store, tx, record.orderId));
    if (loaded === null) throw new Error(`idempotency key ${key} names order ${record.orderId}, whose stream is empty`);
    return { order: toOrderView(loaded.state, loaded.version, loaded.events.at(-1)!.globalPosition), created: false };
  };

  /** The order id a reservation of this body names. */
  let orderId: string | undefined;
  const known = await findKeyInEveryDatabase(env, actor, customerId, key);
  if (known !== null) {
    sameBody(known);
    if (!known.reservation) return replay(known);
    // Claims name the hash the reservation holds (renewing it compares them): an unkeyed one, for a key
    // reserved before the hash was keyed.
    hash = known.requestHash;
    const placed = await env.unitOfWork({ service: 'ordering', tenantId: known.restaurantId, actor, readOnly: true }, (tx) => findIdempotencyKey(tx, customerId, key));
    if (placed !== null && !placed.reservation) return replay(placed);
    orderId = known.orderId; // reserved, and not placed yet: an identical request in flight, or one that failed after reserving
  }

  /**
   * Prices the lines and answers when the order is placed and how `decide` places it under an order id;
   * throws the menu's refusals. `placedAt` is the instant the menu read the prices at (`pricedAt`), not
   * this process's clock read before pricing: a price change committed in between was charged while
   * the menu's history (`?asOf=`, dated on the database's clock) had the old price in force then.
   */
  const priceOrder = async () => {
    const { pricedAt: placedAt, lines: priced } = await env.menu.priceLines(body.restaurantId, body.lines);
    const currencies = new Set(priced.map((p) => p.currency));
    if (currencies.size > 1) throw new UnprocessableError('ORDER_CURRENCY_MIXED', `The menu priced the lines in ${[...currencies].join(', ')}`);
    const eventsFor = (id: string) =>
      decide(
        {
          type: 'place',
          by: actor,
          orderId: id,
          restaurantId: body.restaurantId,
          customerId,
          lines: priced.map((p, i) => ({
            lineId: uuidv7(),
            itemId: p.itemId,
            itemVersion: p.itemVersion,
            name: p.name,
            unitPrice: p.unitPrice,
            quantity: body.lines[i]!.quantity,
            modifiers: p.modifiers,
          })),
          currency: [...currencies][0] ?? '',
          deliveryAddress: body.deliveryAddress,
          placedAt,
          ...(body.expectedTotal === undefined ? {} : { expectedTotal: body.expectedTotal }),
        },
        INITIAL_ORDER,
      );
    return { placedAt, eventsFor };
  };

  // Decided before any reservation: a body the domain refuses leaves the key free.
  let id = orderId ?? uuidv7();
  let placed: Awaited<ReturnType<typeof priceOrder>>;
  let events: OrderEvent[];
  try {
    placed = await priceOrder();
    events = placed.eventsFor(id);
  } catch (error) {
    if (!(error instanceof BrigadeError) || error.status >= 500) throw error;
    // A refusal (sold out, a new total, …). The look-up above cannot see a claim not yet committed: if
    // this is a retry of a request whose first attempt, priced before the menu changed, is committing
    // its claim now, answer that attempt's order, not the refusal. Wait for any claim of the key in
    // flight where this restaurant's placements claim it, then look again.
    const holder = await awaitKeyClaim(env.unitOfWork, { service: 'ordering', tenantId: body.restaurantId, actor }, customerId, key);
    if (holder !== null && !holder.reservation && isThisBody(holder)) return replay(holder);
    throw error;
  }
  let reserved = false;
  const elsewhere = () => env.placementOf(body.restaurantId) !== '';
  for (;;) {
    if (!reserved && elsewhere()) {
      const candidate = id;
      const reservation = await env.unitOfWork({ service: 'ordering', actor }, (tx) =>
        claimIdempotencyKey(tx, { customerId, key, requestHash: hash, orderId: candidate, restaurantId: body.restaurantId, responseStatus: 201, reservation: true }),
      );
      if (!reservation.won) return replay(reservation.existing); // another body's key, or this body's placed before the restaurant moved
      // An identical request reserved first (in flight, or failed after reserving): one order for both,
      // under its id; the restaurant's claim decides between them.
      if (reservation.orderId !== id) events = placed.eventsFor((id = reservation.orderId));
      reserved = true;
    }
    let appended: AppendResult;
    try {
      appended = await env.unitOfWork({ service: 'ordering', tenantId: body.restaurantId, actor }, async (tx) => {
        // The router runs this where the restaurant lives, following a move it learns of; moves go one
        // way, so a restaurant found elsewhere than believed when this began needs its reservation first.
        if (!reserved && elsewhere()) throw new KeyNotReserved();
        // The key's lock, the claim, the order index row and the append leave as ONE batch (with BEGIN,
        // the settings and the fence): a placement is two round trips, this one and COMMIT. The lock
        // shows the placement in flight to a refused retry (`awaitKeyClaim`) before its claim is made.
        // A claim that lost (a live record holds the key) rolls the other two back; a write after it
        // may have failed for the same reason (the reserved order id indexed by the winner), which the
        // lost claim explains.
        const claimed = Promise.all([
          tx.query(lockIdempotencyKeyStatement(customerId, key)),
          tx.query<{ order_id: string }>(claimStatement({ customerId, key, requestHash: hash, orderId: id, restaurantId: body.restaurantId, responseStatus: 201 })),
        ]).then(([, claim]) => claim);
        const written = Promise.all([
          indexOrder(tx, { orderId: id, restaurantId: body.restaurantId, customerId, placedAt: placed.placedAt }),
          env.store.append(tx, orderStreamId(id), sealPersonalFields(toNewEvents(events, input.lineage), customerKey), 0, appendOptions(input.lineage)),
        ]);
        written.catch(() => undefined); // awaited below unless the claim lost
        if ((await claimed).rows.length === 0) throw new KeyTaken();
        return (await written)[1];
      });
    } catch (error) {
      if (error instanceof KeyNotReserved) continue;
      // Lost to a live record of the key: the claim came back empty, or, two identical requests placing
      // one reserved order id, the winner's order index row or first event was met (the batch stopped
      // there, the claim's answer with it).
      const collided = reserved && (error instanceof ConcurrencyError || (error as { code?: unknown }).code === UNIQUE_VIOLATION);
      if (!(error instanceof KeyTaken) && !collided) throw error;
      const existing = await env.unitOfWork({ service: 'ordering', tenantId: body.restaurantId, actor, readOnly: true }, (tx) => findIdempotencyKey(tx, customerId, key));
      if (existing !== null) return replay(existing);
      if (collided) throw error;
      // The record that held it is gone (expired and pruned): claim again.
      continue;
    }
    // Committed. An erasure that did not see the order (its look-up ran before this commit) destroyed
    // the key before it, and has committed or is about to: the check waits for it. Step 5 above.
    if (await env.customerKeys.isErased(customerId)) {
      // Caused by the OrderPlaced, in its correlation.
      const { messageId, correlationId } = appended.events[0]!.metadata;
      const cause = { causationId: messageId, correlationId, ...(input.lineage.traceparent === undefined ? {} : { traceparent: input.lineage.traceparent }) };
      await env.cancelOrder({ restaurantId: body.restaurantId, orderId: id, reason: ERASED_WHILE_PLACED }, cause);
      throw new SubjectErasedError(customerKey.keyId);
    }
    return { order: toOrderView(foldOrder(events), appended.nextExpectedVersion, appended.events.at(-1)!.globalPosition), created: true };
  }
}

/**
 * The customer's unexpired key in the shared database or in any dedicated one (the shared database's
 * first). Since migration 0037 the shared database holds a reservation of every key claimed in a
 * dedicated one; the dedicated databases answer for keys claimed there before it.
 */
async function findKeyInEveryDatabase(env: PlaceOrderEnv, actor: CommandActor, customerId: string, key: string): Promise<IdempotencyRecord | null> {
  // A database that does not answer is left out: a retry with the same body goes to the same
  // restaurant, whose own claim replays it; only a key reused at another restaurant goes unseen then.
  return env.findInEveryDatabase({ service: 'ordering', actor, readOnly: true }, (tx) => findIdempotencyKey(tx, customerId, key), { unanswered: 'skip' });
}
