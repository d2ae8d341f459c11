import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type pg from 'pg';
import client from 'prom-client';
import { createPgTransport, purgeClaimChecks, registerClaimCheckMetrics, withClaimCheck, type Message, type Transport } from '../../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { overlapUnderLock } from '../../support/overlapUnderLock.ts';
import { message, token, waitFor } from './support.ts';

const database = useTestDatabase();
let pool: pg.Pool;
let bus: Transport;

before(async () => {
  await database.ready;
  pool = database.pool(6);
  const transport = createPgTransport({ pool, pollIntervalMs: 100 });
  database.defer(() => transport.close());
  bus = withClaimCheck(transport, { pool, thresholdBytes: 1024 });
});

/** The gauges' values by state, as a scrape reads them. */
async function scrape(registry: client.Registry): Promise<Record<string, { payloads: number; bytes: number }>> {
  const [payloads, bytes] = await Promise.all([registry.getSingleMetric('brigade_claim_check_payloads')!.get(), registry.getSingleMetric('brigade_claim_check_bytes')!.get()]);
  const out: Record<string, { payloads: number; bytes: number }> = {};
  for (const v of payloads.values) out[String(v.labels.state)] = { payloads: v.value, bytes: bytes.values.find((b) => b.labels.state === v.labels.state)!.value };
  return out;
}

describe('claim-check metrics', () => {
  test('the gauges count and size the stored payloads by state: held, held past the grace (an orphan), released, expired (purge due)', async () => {
    const registry = new client.Registry();
    registerClaimCheckMetrics(registry, pool, { graceMs: 3_600_000 });
    const zero = { payloads: 0, bytes: 0 };
    assert.deepEqual(await scrape(registry), { held: zero, held_past_grace: zero, released: zero, expired: zero }, 'every state is exported, empty ones as 0');

    const t = token();
    const sub = `${t}-m`;
    await bus.ensureSubscription({ subscription: sub, pattern: `pgc.${t}.*` });
    // Two payloads the subscription has to handle; the handler takes one and leaves the other.
    const handledOne = message(`pgc.${t}.big`, { blob: 'a'.repeat(5000) });
    const leftOne = message(`pgc.${t}.big`, { blob: 'b'.repeat(9000) });
    const size = (m: { payload: unknown }) => Buffer.byteLength(JSON.stringify(m.payload));
    await bus.publish([handledOne, leftOne]);
    // The left one's reference stays: a subscription that will never handle it (say, its JetStream consumer was deleted).
    await pool.query('delete from brigade_bus.deliveries where message_id = $1', [leftOne.id]);
    assert.deepEqual(await scrape(registry), { held: { payloads: 2, bytes: size(handledOne) + size(leftOne) }, held_past_grace: zero, released: zero, expired: zero });

    const got: Message[] = [];
    const stop = new AbortController();
    const worker = bus.subscribe({ subscription: sub, signal: stop.signal }, async (m) => void got.push(m));
    await waitFor('handled', () => got.length === 1);
    stop.abort();
    await worker.done;
    // The handler's release of the reference is written before its ack: once the delivery is gone it is there.
    await waitFor('acked', async () => (await pool.query('select 1 from brigade_bus.deliveries where message_id = $1', [handledOne.id])).rowCount === 0);
    assert.deepEqual(await scrape(registry), { held: { payloads: 1, bytes: size(leftOne) }, held_past_grace: zero, released: { payloads: 1, bytes: size(handledOne) }, expired: zero });

    // Two hours on: the released payload is due for the purge, the held one has waited past the grace.
    await pool.query(`update brigade_bus.claim_checks set created_at = now() - interval '2 hours'`);
    assert.deepEqual(await scrape(registry), { held: zero, held_past_grace: { payloads: 1, bytes: size(leftOne) }, released: zero, expired: { payloads: 1, bytes: size(handledOne) } });
    const text = await registry.metrics();
    assert.match(text, /brigade_claim_check_payloads\{state="expired"\} 1/);
    assert.match(text, new RegExp(`brigade_claim_check_bytes\\{state="held_past_grace"\\} ${size(leftOne)}`));

    // The purge takes what was expired, and only that.
    assert.equal(await purgeClaimChecks(pool), 1);
    assert.deepEqual(await scrape(registry), { held: zero, held_past_grace: { payloads: 1, bytes: size(leftOne) }, released: zero, expired: zero });
  });

  test('with the payloads locked, overlapping scrapes of both gauges share one read, which ends in the database within its bound, and the gauges have no series rather than their last values', async () => {
    const registry = new client.Registry();
    registerClaimCheckMetrics(registry, pool, { graceMs: 3_600_000 });
    const t = token();
    await bus.ensureSubscription({ subscription: `${t}-l`, pattern: `pgc.${t}.*` });
    await bus.publish([message(`pgc.${t}.big`, { blob: 'c'.repeat(5000) })]);
    assert.ok((await scrape(registry)).held!.payloads >= 1);
    // Found by a review: 20 scrapes held the whole pool the API shares until the lock went.
    const texts = await overlapUnderLock(database.db.url, 'brigade_bus.claim_checks', 5, () => registry.metrics(), 4000);
    for (const text of texts) assert.doesNotMatch(text, /^brigade_claim_check_(payloads|bytes)\{/m, 'no series, not the last values as if current');
    assert.ok((await scrape(registry)).held!.payloads >= 1, 'the lock gone, the next scrape reads again');
  });
});
