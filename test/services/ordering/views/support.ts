import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type pg from 'pg';
import { unitOfWork } from '../../../../src/platform/db/index.ts';
import { createEventStore, type FoldEvent, type GlobalPosition, type NewEvent } from '../../../../src/platform/events/index.ts';
import { applyBatch, comparePositions, ensureCheckpoint, type Projection } from '../../../../src/platform/projections/index.ts';
import { runOnEveryDatabase, type ServiceDeps } from '../../../../src/platform/runtime/index.ts';
import { createViewWorkers } from '../../../../src/services/ordering/views/index.ts';
import { FLOW_MS } from '../../../support/eventually.ts';

export const store = createEventStore({ schema: 'ordering' });

/** One order's identities. */
export interface OrderIds {
  readonly tenantId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly lineIds: readonly string[];
}

/** A new order of `tenantId` with two lines. */
export function newOrder(tenantId: string, customerId: string = randomUUID()): OrderIds {
  return { tenantId, orderId: randomUUID(), customerId, lineIds: [randomUUID(), randomUUID()] };
}

/** The OrderPlaced event of the contract for `o`. */
export function placed(o: OrderIds, at = '2025-01-01T12:00:00.000Z'): NewEvent {
  return {
    type: 'OrderPlaced',
    occurredAt: new Date(at),
    data: {
      orderId: o.orderId,
      restaurantId: o.tenantId,
      customerId: o.customerId,
      lines: o.lineIds.map((lineId, i) => ({
        lineId,
        itemId: randomUUID(),
        itemVersion: 1,
        name: `Dish ${i + 1}`,
        unitPrice: 1000,
        quantity: i + 1,
        modifiers: [{ modifierId: randomUUID(), name: 'extra cheese', priceDelta: 100 }],
        lineTotal: 1100 * (i + 1),
      })),
      total: 3300,
      currency: 'EUR',
      deliveryAddress: '1 Rue de la Paix, Paris',
      placedAt: at,
    },
  };
}

/** An event of the contract for `o` (data gets `orderId`), at an explicit instant. */
export function event(o: OrderIds, type: string, data: Record<string, unknown> = {}, at = '2025-01-01T12:05:00.000Z'): NewEvent {
  return { type, occurredAt: new Date(at), data: { orderId: o.orderId, ...data } };
}

/** Appends `events` to the order's stream as staff of its restaurant; returns the last position. */
export async function append(pool: pg.Pool, o: OrderIds, events: readonly NewEvent[]): Promise<GlobalPosition> {
  const result = await unitOfWork(pool, { service: 'ordering', tenantId: o.tenantId, actor: { kind: 'staff', id: randomUUID() } }, (tx) =>
    store.append(tx, `order-${o.orderId}`, events, 'any'),
  );
  return result.events[result.events.length - 1]!.globalPosition;
}

/** One batch of `projection` in its own transaction, as the projector runs it. */
export function step(pool: pg.Pool, projection: Projection, limit = 500) {
  return unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'test-projector' } }, async (tx) => {
    await ensureCheckpoint(tx, projection);
    return applyBatch(tx, projection, limit);
  });
}

/**
 * Runs batches until the projection's checkpoint reaches `target`. Transaction ids are cluster-wide,
 * so another test file's open write transaction can hold readAll's bound back for a moment: that
 * delays, never skips (decision 0011). Gives up after FLOW_MS (a bound on a hang, not a timing claim).
 */
export async function drain(pool: pg.Pool, projection: Projection, target: GlobalPosition, limit = 500): Promise<void> {
  const deadline = Date.now() + FLOW_MS;
  for (;;) {
    const result = await step(pool, projection, limit);
    if (comparePositions(result.checkpoint, target) >= 0 && result.read < limit) return;
    if (Date.now() > deadline) throw new Error(`projection ${projection.name} did not reach the target position`);
    if (result.read === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every row of a view table, as JSON, sorted by key: what "equal views" compares. */
export async function viewRows(admin: pg.Pool, table: string): Promise<Record<string, unknown>[]> {
  const { rows } = await admin.query<{ row: Record<string, unknown> }>(`select to_jsonb(t) as row from ordering.${table} t order by tenant_id, order_id`);
  return rows.map((r) => r.row);
}

/** Fresh fold: every event applied from nothing into a scratch copy of the view, in one pass, as JSON rows. */
export async function freshFold(admin: pg.Pool, pool: pg.Pool, projection: Projection): Promise<Record<string, unknown>[]> {
  const scratch = `${projection.table}_fresh`;
  await admin.query(`drop table if exists ordering.${scratch}`);
  await admin.query(`create table ordering.${scratch} (like ordering.${projection.table} including all)`);
  try {
    await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'fresh-fold' } }, async (tx) => {
      let after: GlobalPosition | undefined;
      for (;;) {
        const page = await projection.store.readAll(tx, { after, limit: 5000 });
        if (page.events.length === 0) return;
        const relevant = projection.eventTypes === undefined ? page.events : page.events.filter((e) => projection.eventTypes!.has(e.type));
        await projection.apply(tx, relevant, `ordering.${scratch}`);
        after = page.checkpoint;
      }
    });
    return await viewRows(admin, scratch);
  } finally {
    await admin.query(`drop table ordering.${scratch}`);
  }
}

/**
 * The three order-view workers as `brigade worker` runs them (workersOf): one instance per database, a
 * moved restaurant's database getting its own within a second of the move. Returns what stops them and
 * waits for them to end.
 */
export function startOrderViewWorkers(deps: ServiceDeps): () => Promise<void> {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const running = createViewWorkers().map((w) => runOnEveryDatabase({ ...w, service: 'ordering' }, deps, stop.signal));
  return async () => {
    stop.abort();
    await Promise.all(running);
  };
}

/**
 * Opens the board stream of `rid` at `base` (a listening platform) and collects its text; `until`
 * resolves once the text satisfies a predicate (bounded by FLOW_MS), `ended` once the server ends it.
 */
export async function openBoardStream(base: string, rid: string, token: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: abort.signal });
  let text = '';
  const waiters: Array<{ test: (t: string) => boolean; resolve: () => void }> = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body!) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        for (const w of waiters.filter((x) => x.test(text))) w.resolve();
      }
    } catch {
      // aborted
    }
  })();
  const until = (test: (t: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (test(text)) return resolve();
      const timer = setTimeout(() => reject(new Error(`stream text never matched; got:\n${text}`)), FLOW_MS);
      waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { response, until, text: () => text, ended: reading, close: async () => (abort.abort(), await reading) };
}

/**
 * An event of order `orderId` of `tenantId` as a view's fold receives it, for the folds' unit tests:
 * `foldEventOf(tenantId, orderId)('OrderAccepted', {}, 2)` (its `orderId` added to the data).
 */
export function foldEventOf(tenantId: string, orderId: string) {
  return (type: string, data: Record<string, unknown>, version: number): FoldEvent => ({
    streamId: `order-${orderId}`,
    streamVersion: version,
    type,
    schemaVersion: 1,
    storedSchemaVersion: 1,
    data: { orderId, ...data },
    globalPosition: { transactionId: 9n, position: BigInt(version) },
    metadata: { tenantId, occurredAt: `2026-12-03T12:0${version}:00.000Z` },
  });
}
