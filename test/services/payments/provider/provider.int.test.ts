import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import {
  createPaymentProviderClient,
  ensureProviderSchema,
  PaymentDeclinedError,
  PaymentProviderAnswerInvalidError,
  PaymentProviderCallAbortedError,
  PaymentProviderCredentialsError,
  PaymentProviderOutcomeUnknownError,
  PaymentProviderTimeoutError,
  PaymentProviderUnavailableError,
  PaymentRejectedError,
  PaymentRequestChangedError,
} from '../../../../src/services/payments/provider/index.ts';
import { requestHash } from '../../../../src/services/payments/provider/runIdempotent.ts';
import { paymentSaga, type PaymentSagaState } from '../../../../src/services/payments/saga/index.ts';
import { applySagaEvent, type SagaInstance } from '../../../../src/platform/sagas/index.ts';
import type { BrigadeError } from '../../../../src/platform/errors/index.ts';
import { eventually, within } from '../../../support/eventually.ts';
import { unansweredServer } from '../../../support/unansweredServer.ts';
import { listeningProvider, withFaults } from './support.ts';

const CARD = '4242424242424242';

describe('payment provider: idempotency keys, ledger and faults', () => {
  const provider = listeningProvider();
  before(() => ensureProviderSchema(provider.pool)); // idempotent: a second start finds everything in place

  const ledger = async (reference: string) => (await provider.pool.query(`select movement, amount, idempotency_key from payment_provider.ledger_entries where reference = $1 order by id`, [reference])).rows;
  const charge = (key: string | undefined, body: Record<string, unknown>) =>
    provider.app.inject({ method: 'POST', url: '/charges', headers: key === undefined ? {} : { 'idempotency-key': key }, payload: body });

  test('the same key and body twice: one charge, one ledger entry, the same answer replayed', async () => {
    const reference = randomUUID();
    const body = { amount: 1250, currency: 'EUR', card: CARD, reference };
    const first = await charge('k-same', body);
    assert.equal(first.statusCode, 201);
    const second = await charge('k-same', { reference, card: CARD, currency: 'EUR', amount: 1250 }); // key order does not matter
    assert.equal(second.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.deepEqual(second.json(), first.json());
    assert.equal(first.json().status, 'authorized');
    assert.deepEqual(await ledger(reference), [{ movement: 'authorization', amount: '1250', idempotency_key: 'k-same' }]);
    assert.equal((await provider.pool.query(`select count(*)::int as n from payment_provider.charges where reference = $1`, [reference])).rows[0].n, 1);
  });

  test('the same key with a different body: 422 IDEMPOTENCY_KEY_REUSED and nothing moves', async () => {
    const reference = randomUUID();
    assert.equal((await charge('k-reused', { amount: 100, currency: 'EUR', card: CARD, reference })).statusCode, 201);
    const reused = await charge('k-reused', { amount: 999, currency: 'EUR', card: CARD, reference });
    assert.equal(reused.statusCode, 422);
    assert.equal(reused.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(reused.json().code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal((await ledger(reference)).length, 1);
    const elsewhere = await provider.app.inject({ method: 'POST', url: '/payouts', headers: { 'idempotency-key': 'k-reused' }, payload: { destination: 'acct_1', amount: 100, currency: 'EUR' } });
    assert.equal(elsewhere.json().code, 'IDEMPOTENCY_KEY_REUSED');
  });

  test('injection strings in every input are data, never SQL', async () => {
    const evil = `x'); drop table payment_provider.ledger_entries; --`;
    const evilKey = `x');drop/**/table/**/payment_provider.ledger_entries;--`; // keys are visible ASCII, no spaces
    const res = await charge(evilKey, { amount: 100, currency: 'EUR', card: CARD, reference: evil });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().reference, evil);
    const payout = await provider.app.inject({ method: 'POST', url: '/payouts', headers: { 'idempotency-key': `${evilKey}2` }, payload: { destination: evil, amount: 1, currency: 'EUR' } });
    assert.equal(payout.statusCode, 201);
    const listed = await provider.app.inject({ url: `/ledger?reference=${encodeURIComponent(evil)}` });
    assert.deepEqual(listed.json().entries.map((e: { movement: string }) => e.movement), ['authorization', 'payout']);
    const badId = await provider.app.inject({ url: `/ledger?chargeId=${encodeURIComponent(evil)}` });
    assert.equal(badId.statusCode, 400);
  });

  test('a NUL character (or half a surrogate pair) in reference, destination or the ledger query: 400 VALIDATION_FAILED naming the field, and nothing moves (before: 500 INTERNAL, which a client retries)', async () => {
    const reference = randomUUID();
    const post = (url: string, body: Record<string, unknown>) => provider.app.inject({ method: 'POST', url, headers: { 'idempotency-key': randomUUID() }, payload: body });
    for (const [res, field] of [
      [await post('/charges', { amount: 100, currency: 'EUR', card: CARD, reference: `${reference}\u0000x` }), 'body.reference'],
      [await post('/charges', { amount: 100, currency: 'EUR', card: CARD, reference: `${reference}\ud800` }), 'body.reference'],
      [await post('/payouts', { destination: `${reference}\u0000`, amount: 1, currency: 'EUR' }), 'body.destination'],
      [await provider.app.inject({ url: `/ledger?reference=${reference}%00b` }), 'querystring.reference'],
    ] as const) {
      assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'VALIDATION_FAILED', field], res.body);
      assert.match(res.json().detail, /NUL character .*remove it and send again/, res.body);
    }
    assert.equal((await provider.pool.query(`select count(*)::int as n from payment_provider.ledger_entries where reference like $1`, [`${reference}%`])).rows[0].n, 0);
  });

  test('a money-moving request without Idempotency-Key is refused with 400', async () => {
    const res = await charge(undefined, { amount: 100, currency: 'EUR', card: CARD, reference: 'x' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'IDEMPOTENCY_KEY_REQUIRED');
    assert.match(res.json().detail, /^No Idempotency-Key header was sent/, res.body);
    assert.match(res.json().detail, /1 to 255 visible ASCII characters, no spaces/, res.body);
  });

  test('an Idempotency-Key that is sent but not 1 to 255 visible ASCII characters: 400 saying what is wrong with it, and nothing moves', async () => {
    // Before: "Send an Idempotency-Key header (1 to 255 characters)" to a client that had sent one of 3.
    const payout = (key: string) => provider.app.inject({ method: 'POST', url: '/payouts', headers: { 'idempotency-key': key }, payload: { destination: 'd', amount: 1, currency: 'EUR' } });
    for (const [key, why] of [
      ['a b', /holds a space/],
      ['cl\u00e9', /character that is not visible ASCII/],
      ['', /is empty/],
      ['k'.repeat(256), /has 256 characters/],
    ] as const) {
      const res = await payout(key);
      assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'IDEMPOTENCY_KEY_REQUIRED', 'Idempotency-Key'], res.body);
      assert.match(res.json().detail, /^The Idempotency-Key header is not valid: /, res.body);
      assert.match(res.json().detail, why, res.body);
      assert.match(res.json().detail, /1 to 255 visible ASCII characters, no spaces/, res.body);
    }
    assert.equal((await provider.pool.query(`select count(*)::int as n from payment_provider.ledger_entries where reference = 'd'`)).rows[0].n, 0);
    assert.equal((await payout('k'.repeat(255))).statusCode, 201, '255 visible ASCII characters are a key');
  });

  test('a JSON body with a __proto__ or constructor.prototype key: 400 FORBIDDEN_JSON_KEY naming it, not MALFORMED_JSON', async () => {
    const post = (payload: string) => provider.app.inject({ method: 'POST', url: '/payouts', headers: { 'idempotency-key': randomUUID(), 'content-type': 'application/json' }, payload });
    const proto = await post('{"destination":"d","amount":1,"currency":"EUR","__proto__":{"x":1}}');
    assert.deepEqual([proto.statusCode, proto.json().code, proto.json().field], [400, 'FORBIDDEN_JSON_KEY', 'body.__proto__'], proto.body);
    assert.match(String(proto.headers['content-type']), /^application\/problem\+json/);
    assert.match(proto.json().detail, /body\.__proto__/);
    assert.match(proto.json().detail, /remove or rename it/);
    const nested = await post('{"destination":"d","amount":1,"currency":"EUR","meta":[{"constructor":{"prototype":{"x":1}}}]}');
    assert.deepEqual([nested.statusCode, nested.json().code, nested.json().field], [400, 'FORBIDDEN_JSON_KEY', 'body.meta[0].constructor.prototype'], nested.body);
    const broken = await post('{"destination":"d",');
    assert.deepEqual([broken.statusCode, broken.json().code], [400, 'MALFORMED_JSON'], broken.body);
  });

  test('a duplicate arriving while the first is in flight waits for it and replays its answer', async () => {
    const reference = randomUUID();
    const body = { amount: 700, currency: 'EUR', card: CARD, reference };
    const held = await provider.pool.connect();
    try {
      // The "first request": its key row inserted and not yet committed.
      await held.query('begin');
      await held.query(`insert into payment_provider.idempotency_keys (key, request_hash) values ($1, $2)`, ['k-inflight', requestHash('POST', '/charges', body)]);
      const duplicate = charge('k-inflight', body);
      // Wait until the duplicate is blocked on the key's row lock.
      for (;;) {
        const { rows } = await provider.pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%idempotency_keys%'`);
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const answer = { id: randomUUID(), reference, status: 'authorized' };
      await held.query(`update payment_provider.idempotency_keys set status = 201, body = $2 where key = $1`, ['k-inflight', answer]);
      await held.query('commit');
      const res = await duplicate;
      assert.equal(res.statusCode, 201);
      assert.deepEqual(res.json(), answer);
      assert.equal(res.headers['idempotent-replayed'], 'true');
      assert.equal((await ledger(reference)).length, 0, 'the duplicate ran no effect of its own');
    } finally {
      held.release(true); // closed, not pooled: a failure could leave its transaction open
    }
  });

  test('the declined card: 402 CARD_DECLINED, no ledger entry, and the refusal is replayed for its key', async () => {
    const reference = randomUUID();
    const body = { amount: 500, currency: 'EUR', card: '4000000000000002', reference };
    const declined = await charge('k-declined', body);
    assert.equal(declined.statusCode, 402);
    assert.equal(declined.json().code, 'CARD_DECLINED');
    const again = await charge('k-declined', body);
    assert.equal(again.statusCode, 402);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(await ledger(reference), []);
  });

  test('error rate 1.0: 503 with nothing written, so a retry with the same key runs once', async () => {
    const reference = randomUUID();
    const body = { amount: 300, currency: 'EUR', card: CARD, reference };
    const failed = await withFaults(provider, { errorRate: 1 }, () => charge('k-503', body));
    assert.equal(failed.statusCode, 503);
    assert.equal(failed.json().code, 'PROVIDER_UNAVAILABLE');
    assert.equal((await provider.pool.query(`select count(*)::int as n from payment_provider.idempotency_keys where key = 'k-503'`)).rows[0].n, 0);
    assert.equal((await charge('k-503', body)).statusCode, 201);
    assert.equal((await ledger(reference)).length, 1);
  });

  test('capture, refund and payout each move money once per key; over-refunding is refused', async () => {
    const reference = randomUUID();
    const authorized = (await charge('k-flow-charge', { amount: 2000, currency: 'EUR', card: CARD, reference })).json();
    const capture = () => provider.app.inject({ method: 'POST', url: `/charges/${authorized.id}/capture`, headers: { 'idempotency-key': 'k-flow-capture' }, payload: {} });
    assert.equal((await capture()).json().status, 'captured');
    assert.equal((await capture()).headers['idempotent-replayed'], 'true');
    const recapture = await provider.app.inject({ method: 'POST', url: `/charges/${authorized.id}/capture`, headers: { 'idempotency-key': 'k-flow-capture-2' }, payload: {} });
    assert.equal(recapture.statusCode, 422);
    assert.deepEqual([recapture.json().status, recapture.json().code, recapture.json().chargeStatus], [422, 'CHARGE_NOT_CAPTURABLE', 'captured'], 'the problem keeps the HTTP status; the charge status is a detail');
    const refund = (key: string, amount: number) => provider.app.inject({ method: 'POST', url: '/refunds', headers: { 'idempotency-key': key }, payload: { chargeId: authorized.id, amount } });
    assert.equal((await refund('k-flow-refund', 1500)).statusCode, 201);
    assert.equal((await refund('k-flow-refund', 1500)).statusCode, 201);
    const over = await refund('k-flow-refund-2', 600);
    assert.equal(over.statusCode, 422);
    assert.equal(over.json().code, 'REFUND_EXCEEDS_CHARGE');
    const payout = await provider.app.inject({ method: 'POST', url: '/payouts', headers: { 'idempotency-key': 'k-flow-payout' }, payload: { destination: reference, amount: 1800, currency: 'EUR' } });
    assert.equal(payout.statusCode, 201);
    assert.deepEqual(
      (await ledger(reference)).map((e) => [e.movement, e.amount]),
      [['authorization', '2000'], ['capture', '2000'], ['refund', '1500'], ['payout', '1800']],
    );
    const listed = await provider.app.inject({ url: `/ledger?chargeId=${authorized.id}` });
    assert.deepEqual(listed.json().entries.map((e: { movement: string }) => e.movement), ['authorization', 'capture', 'refund']);
  });

  test("GET /ledger by idempotencyKey (and movement) answers that key's entries only, through an index: a payout's lookup no longer reads its destination's whole history (before: no such filter)", async () => {
    const destination = `restaurant:${randomUUID()}`;
    for (const n of [1, 2, 3]) {
      const paid = await provider.app.inject({ method: 'POST', url: '/payouts', headers: { 'idempotency-key': `${destination}:k${n}` }, payload: { destination, amount: 100 * n, currency: 'EUR' } });
      assert.equal(paid.statusCode, 201, paid.body);
    }
    const byKey = await provider.app.inject({ url: `/ledger?reference=${encodeURIComponent(destination)}&idempotencyKey=${encodeURIComponent(`${destination}:k2`)}&movement=payout` });
    assert.equal(byKey.statusCode, 200, byKey.body);
    assert.deepEqual(byKey.json().entries.map((e: { amount: number; idempotencyKey: string }) => [e.amount, e.idempotencyKey]), [[200, `${destination}:k2`]]);
    const otherMovement = await provider.app.inject({ url: `/ledger?idempotencyKey=${encodeURIComponent(`${destination}:k2`)}&movement=refund` });
    assert.deepEqual(otherMovement.json().entries, []);
    assert.equal((await provider.app.inject({ url: '/ledger?movement=teleport' })).statusCode, 400, 'an unknown movement is refused');
    const { rows } = await provider.pool.query(`select indexdef from pg_indexes where schemaname = 'payment_provider' and tablename = 'ledger_entries' and indexdef like '%(idempotency_key)%'`);
    assert.equal(rows.length, 1, 'an index on idempotency_key');
  });
  test('an authorized charge is voided once per key, with a void in the ledger; a captured one cannot be voided, nor a voided one captured (before: no void, so an order ended after its authorization was captured, then refunded)', async () => {
    const reference = randomUUID();
    const authorized = (await charge('k-void-charge', { amount: 2100, currency: 'EUR', card: CARD, reference })).json();
    const voiding = (id: string, key: string) => provider.app.inject({ method: 'POST', url: `/charges/${id}/void`, headers: { 'idempotency-key': key }, payload: {} });
    const voided = await voiding(authorized.id, 'k-void');
    assert.equal(voided.statusCode, 200, voided.body);
    assert.deepEqual([voided.json().id, voided.json().status, voided.json().amount], [authorized.id, 'voided', 2100]);
    const replayed = await voiding(authorized.id, 'k-void');
    assert.deepEqual([replayed.statusCode, replayed.headers['idempotent-replayed'], replayed.json()], [200, 'true', voided.json()]);
    const again = await voiding(authorized.id, 'k-void-2');
    assert.deepEqual([again.statusCode, again.json().code, again.json().chargeStatus], [422, 'CHARGE_NOT_VOIDABLE', 'voided']);
    const capture = await provider.app.inject({ method: 'POST', url: `/charges/${authorized.id}/capture`, headers: { 'idempotency-key': 'k-void-capture' }, payload: {} });
    assert.deepEqual([capture.statusCode, capture.json().code, capture.json().chargeStatus], [422, 'CHARGE_NOT_CAPTURABLE', 'voided']);
    assert.deepEqual((await ledger(reference)).map((e) => [e.movement, e.amount, e.idempotency_key]), [['authorization', '2100', 'k-void-charge'], ['void', '2100', 'k-void']]);
    const capturedOne = (await charge('k-void-charge-2', { amount: 900, currency: 'EUR', card: CARD, reference })).json();
    await provider.app.inject({ method: 'POST', url: `/charges/${capturedOne.id}/capture`, headers: { 'idempotency-key': 'k-void-capture-2' }, payload: {} });
    const tooLate = await voiding(capturedOne.id, 'k-void-3');
    assert.deepEqual([tooLate.statusCode, tooLate.json().code, tooLate.json().chargeStatus], [422, 'CHARGE_NOT_VOIDABLE', 'captured']);
    assert.equal((await voiding(randomUUID(), 'k-void-4')).statusCode, 404);
    assert.equal((await provider.app.inject({ method: 'POST', url: `/charges/${authorized.id}/void`, payload: {} })).statusCode, 400, 'a void needs an Idempotency-Key');
  });
});

describe('payment provider client over HTTP', () => {
  const provider = listeningProvider();

  test('a timeout, then success on retry with the same key: charged exactly once per the ledger', async () => {
    // Only the call whose answer the provider holds for 10 s gives up early; the others wait longer than a loaded machine takes.
    const impatient = createPaymentProviderClient({ baseUrl: provider.baseUrl, timeoutMs: 1500 });
    const client = createPaymentProviderClient({ baseUrl: provider.baseUrl, timeoutMs: 30_000 });
    const reference = randomUUID();
    const request = { amount: 4200, currency: 'EUR', card: CARD, reference };
    await withFaults(provider, { timeoutRate: 1, hangMs: 10_000 }, () => assert.rejects(impatient.charge(request, `${reference}:charge`), PaymentProviderTimeoutError));
    // The charge happened although its answer was lost (its commit may land after the client gave up).
    await eventually('the lost charge in the ledger', () => client.ledger({ reference }), (e) => e.length === 1, 30_000);
    const retried = await client.charge(request, `${reference}:charge`);
    assert.equal(retried.status, 'authorized');
    assert.equal(retried.amount, 4200);
    const entries = await client.ledger({ reference });
    assert.deepEqual(entries.map((e) => [e.movement, e.amount, e.idempotencyKey]), [['authorization', 4200, `${reference}:charge`]]);
    assert.equal(entries[0]?.chargeId, retried.id);
  });

  test('typed errors: declined, unavailable, rejected, a key reused with another request, unreachable', async () => {
    const client = createPaymentProviderClient({ baseUrl: provider.baseUrl, timeoutMs: 2000 });
    await assert.rejects(client.charge({ amount: 1, currency: 'EUR', card: '4000000000000002', reference: 'd' }, 'c-declined'), PaymentDeclinedError);
    await withFaults(provider, { errorRate: 1 }, () => assert.rejects(client.charge({ amount: 1, currency: 'EUR', card: CARD, reference: 'u' }, 'c-unavailable'), PaymentProviderUnavailableError));
    // A 404 to a money call is no answer to its key (a wrong base path answers so too): unknown, retried.
    await assert.rejects(client.capture(randomUUID(), 'c-missing', { amount: 1, currency: 'EUR' }), (e: unknown) => e instanceof PaymentProviderOutcomeUnknownError && e.retryable && e.details.providerCode === 'NOT_FOUND');
    const authorized = await client.charge({ amount: 1, currency: 'EUR', card: CARD, reference: 'k' }, 'c-changed');
    await assert.rejects(client.refund({ chargeId: authorized.id, amount: 1 }, 'c-not-captured', { currency: 'EUR' }), (e: unknown) => e instanceof PaymentRejectedError && !e.retryable && e.details.providerCode === 'CHARGE_NOT_REFUNDABLE');
    await assert.rejects(
      client.charge({ amount: 1, currency: 'EUR', card: '5555555555554444', reference: 'k' }, 'c-changed'),
      (e: unknown) => e instanceof PaymentRequestChangedError && e.retryable && e.details.idempotencyKey === 'c-changed',
    );
    // A void: the voided charge; a captured one refused for good (the caller refunds it instead).
    const toVoid = await client.charge({ amount: 7, currency: 'EUR', card: CARD, reference: 'v' }, 'c-void-charge');
    const voided = await client.void(toVoid.id, 'c-void', { amount: 7, currency: 'EUR' });
    assert.deepEqual([voided.id, voided.status, voided.amount], [toVoid.id, 'voided', 7]);
    const capturedOne = await client.charge({ amount: 7, currency: 'EUR', card: CARD, reference: 'v' }, 'c-void-charge-2');
    await client.capture(capturedOne.id, 'c-void-capture', { amount: 7, currency: 'EUR' });
    await assert.rejects(client.void(capturedOne.id, 'c-void-2', { amount: 7, currency: 'EUR' }), (e: unknown) => e instanceof PaymentRejectedError && !e.retryable && e.details.providerCode === 'CHARGE_NOT_VOIDABLE');
    await assert.rejects(client.void(randomUUID(), 'c-void-missing', { amount: 7, currency: 'EUR' }), (e: unknown) => e instanceof PaymentProviderOutcomeUnknownError && e.retryable);
    const nowhere = createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await assert.rejects(nowhere.ledger(), PaymentProviderUnavailableError);
  });
});

describe("payment provider client: the caller's signal", () => {
  test("a call in flight is abandoned when the caller's signal aborts (a saga runner stopping), long before the client's own timeout: its request is closed, and the error says the outcome is unknown (before: the client took no signal, and the call ran to its timeout)", async (t) => {
    const server = await unansweredServer();
    t.after(() => server.close());
    const client = createPaymentProviderClient({ baseUrl: server.url, timeoutMs: 600_000 });
    const calls = [
      (signal: AbortSignal) => client.charge({ amount: 1800, currency: 'EUR', card: CARD, reference: 'order-1' }, 'order-1:charge', signal),
      (signal: AbortSignal) => client.capture('ch_1', 'order-1:capture', { amount: 1800, currency: 'EUR' }, signal),
      (signal: AbortSignal) => client.void('ch_1', 'order-1:refund:void', { amount: 1800, currency: 'EUR' }, signal),
      (signal: AbortSignal) => client.refund({ chargeId: 'ch_1', amount: 1800 }, 'order-1:refund', { currency: 'EUR' }, signal),
      (signal: AbortSignal) => client.payout({ destination: 'restaurant:r', amount: 1400, currency: 'EUR' }, 'order-1:payoutRestaurant', signal),
      (signal: AbortSignal) => client.ledger({ reference: 'order-1' }, signal),
    ];
    for (const [i, call] of calls.entries()) {
      const stop = new AbortController();
      const pending = call(stop.signal);
      await eventually('the request to reach the provider', async () => server.taken(), (n) => n === i + 1, 15_000);
      stop.abort(new Error('runner stopping'));
      await within(
        assert.rejects(pending, (e: unknown) => e instanceof PaymentProviderCallAbortedError && e.retryable && /abandoned by its caller \(runner stopping\)/.test(e.message) && (i === 5 || /whether it acted under key order-1:\w+/.test(e.message))),
        15_000,
        `call ${i} to end on its signal`,
      );
      await eventually('the request to be closed', async () => server.closed(), (n) => n === i + 1, 15_000);
    }
    // A signal aborted before the call: nothing is sent.
    await assert.rejects(client.ledger({}, AbortSignal.abort(new Error('stopped'))), PaymentProviderCallAbortedError);
    assert.equal(server.taken(), calls.length);
  });
});

describe('payment provider client: answers that are not what was asked for', () => {
  /** A provider stand-in that answers every request with `status` and `body`. */
  const answering = async (t: { after(fn: () => unknown): void }, status: number, body: unknown) => {
    const { createServer } = await import('node:http');
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    return createPaymentProviderClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
  };
  const request = { amount: 1800, currency: 'EUR', card: CARD, reference: 'order-1' };

  test('a 2xx whose body is not the charge asked for is an unknown outcome, never a charge (before: `{}` was taken as charged, and the order was paid out uncharged)', async (t) => {
    for (const body of [{}, null, [], { id: 'ch_1', amount: 1, currency: 'EUR', reference: 'order-1' }, { id: 'ch_1', amount: 1800, currency: 'USD', reference: 'order-1' }, { id: 'ch_1', amount: 1800, currency: 'EUR', reference: 'order-2' }]) {
      const client = await answering(t, 201, body);
      await assert.rejects(client.charge(request, 'k:charge'), (e: unknown) => e instanceof PaymentProviderAnswerInvalidError && e.retryable && /look key k:charge up in its ledger/.test(e.message), JSON.stringify(body));
    }
    const right = await answering(t, 201, { id: 'ch_1', amount: 1800, currency: 'EUR', reference: 'order-1', status: 'authorized' });
    assert.equal((await right.charge(request, 'k:charge')).id, 'ch_1');
    await assert.rejects((await answering(t, 200, { id: 'ch_2' })).capture('ch_1', 'k:capture', { amount: 1800, currency: 'EUR' }), PaymentProviderAnswerInvalidError);
    await assert.rejects((await answering(t, 201, { id: 'po_1', destination: 'restaurant:x', amount: 5, currency: 'EUR' })).payout({ destination: 'restaurant:x', amount: 1230, currency: 'EUR' }, 'k:payout'), PaymentProviderAnswerInvalidError);
    await assert.rejects((await answering(t, 201, { id: 're_1', chargeId: 'ch_9', amount: 1800 })).refund({ chargeId: 'ch_1', amount: 1800 }, 'k:refund', { currency: 'EUR' }), PaymentProviderAnswerInvalidError);
    await assert.rejects((await answering(t, 200, { entries: 'none' })).ledger(), PaymentProviderAnswerInvalidError);
  });

  test("a 2xx whose status says the money did not move is not taken as moved: a charge answered 'declined', a capture answered 'authorized' or of another amount, a refund in another currency (before: each was taken as done, and the order was paid out uncharged)", async (t) => {
    const charge = { id: 'ch_1', amount: 1800, currency: 'EUR', reference: 'order-1', cardLast4: '4242', refundedAmount: 0 };
    for (const status of ['declined', 'captured', undefined]) {
      await assert.rejects(
        (await answering(t, 201, { ...charge, status })).charge(request, 'k:charge'),
        (e: unknown) => e instanceof PaymentProviderAnswerInvalidError && e.retryable && /a charge whose status is .*, not "authorized"/.test(e.message),
        String(status),
      );
    }
    const expected = { amount: 1800, currency: 'EUR' };
    for (const answer of [{ ...charge, status: 'authorized' }, { ...charge, status: 'captured', amount: 900 }, { ...charge, status: 'captured', currency: 'USD' }]) {
      await assert.rejects((await answering(t, 200, answer)).capture('ch_1', 'k:capture', expected), PaymentProviderAnswerInvalidError, JSON.stringify(answer));
    }
    assert.equal((await (await answering(t, 200, { ...charge, status: 'captured' })).capture('ch_1', 'k:capture', expected)).status, 'captured');
    await assert.rejects((await answering(t, 201, { id: 're_1', chargeId: 'ch_1', amount: 1800, currency: 'USD' })).refund({ chargeId: 'ch_1', amount: 1800 }, 'k:refund', { currency: 'EUR' }), PaymentProviderAnswerInvalidError);
    assert.equal((await (await answering(t, 201, { id: 're_1', chargeId: 'ch_1', amount: 1800, currency: 'EUR' })).refund({ chargeId: 'ch_1', amount: 1800 }, 'k:refund', { currency: 'EUR' })).id, 're_1');
  });

  test("the saga on such answers: a charge answered 'declined' with nothing under its key is retried, then parks (not charged, not cancelled); a capture answered 'authorized' is retried, then parks before any payout", async (t) => {
    const orderId = randomUUID();
    const { createServer } = await import('node:http');
    const server = createServer((req, response) => {
      req.resume();
      req.on('end', () => {
        const path = (req.url ?? '').split('?')[0]!;
        const body = path === '/ledger' ? { entries: [] } : { id: 'ch_1', amount: 1800, currency: 'EUR', reference: orderId, cardLast4: '0002', refundedAmount: 0, status: path === '/charges' ? 'declined' : 'authorized' };
        response.writeHead(path === '/charges' ? 201 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const provider = createPaymentProviderClient({ baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, timeoutMs: 2000 });
    const saga = paymentSaga(
      { provider, orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'accepted', courierId: null }) }, paymentMethods: { cardFor: async () => '4000000000000002' } },
      { acceptWithinMs: 60_000 },
    );
    const restaurantId = randomUUID();
    const state = { orderId, restaurantId, customerId: randomUUID(), total: 1800, currency: 'EUR', chargeId: null, charged: false, chargeFailed: false, accepted: false, courierId: null, outcome: 'open' as const };
    const ctx = (step: string, s: PaymentSagaState) => ({ sagaId: orderId, tenantId: restaurantId, step, idempotencyKey: `${orderId}:${step}`, state: s, attempt: 1, signal: new AbortController().signal });
    let failure: unknown;
    await assert.rejects(saga.steps.charge!.action(ctx('charge', state)), (e: unknown) => ((failure = e), true));
    assert.ok(failure instanceof PaymentProviderAnswerInvalidError && failure.retryable, String(failure));
    const base: SagaInstance<PaymentSagaState> = { tenantId: restaurantId, id: orderId, name: 'payment', version: 3, state, status: 'running', pending: ['charge'], completed: ['order'], failed: [], attempts: 9, error: null, errorBeforePark: null };
    const parked = applySagaEvent(saga, base, { kind: 'stepFailed', item: 'charge', error: { code: failure.code, message: failure.message }, retry: false });
    assert.deepEqual([parked?.status, parked?.pending, parked?.state.chargeId, parked?.state.chargeFailed], ['parked', ['charge'], null, false]);
    // The capture of a delivered order answered 'authorized': not captured, and no payout is queued.
    const delivered = { ...state, chargeId: 'ch_1', charged: true, accepted: true, courierId: randomUUID(), outcome: 'delivered' as const };
    // Nothing under its key in the ledger either: an unknown outcome (the answer kept as its cause), retried.
    await assert.rejects(
      saga.steps.capture!.action(ctx('capture', delivered)),
      (e: unknown) => ((failure = e), (e as BrigadeError).code === 'PAYMENT_OUTCOME_UNKNOWN' && (e as Error).cause instanceof PaymentProviderAnswerInvalidError && saga.steps.capture!.retryable!(e)),
    );
    const capture = applySagaEvent(saga, { ...base, state: delivered, pending: ['capture', 'payoutRestaurant', 'payoutCourier'], completed: ['order', 'charge'] }, { kind: 'stepFailed', item: 'capture', error: { code: (failure as BrigadeError).code, message: (failure as BrigadeError).message }, retry: false });
    assert.deepEqual([capture?.status, capture?.pending], ['parked', ['capture', 'payoutRestaurant', 'payoutCourier']]);
  });

  test('429 and 408 are a busy provider (retried); 401 and 403 its refusal of the platform\'s credentials, not of the payment (before: all four cancelled the order)', async (t) => {
    for (const status of [429, 408]) await assert.rejects((await answering(t, status, { detail: 'slow down' })).charge(request, 'k'), (e: unknown) => e instanceof PaymentProviderUnavailableError && e.retryable, String(status));
    for (const status of [401, 403]) {
      await assert.rejects((await answering(t, status, { detail: 'bad key' })).charge(request, 'k'), (e: unknown) => e instanceof PaymentProviderCredentialsError && !e.retryable && /credentials/.test(e.message), String(status));
    }
    await assert.rejects((await answering(t, 422, { code: 'CHARGE_NOT_CAPTURABLE', detail: 'captured' })).capture('ch_1', 'k', { amount: 1800, currency: 'EUR' }), PaymentRejectedError);
  });

  test('409, 404 and 400 on a money call say nothing of what its key did (a request with that key still in flight, a wrong base path, a request the provider did not take up): an unknown outcome, retried, and the refund, capture and payouts retry it too (before: PAYMENT_REJECTED, read as nothing charged)', async (t) => {
    const saga = paymentSaga(
      { provider: createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) }, paymentMethods: { cardFor: async () => CARD } },
      { acceptWithinMs: 60_000 },
    );
    const answers = [
      [409, { code: 'IDEMPOTENCY_KEY_IN_USE', detail: 'There is currently another in-progress request using this Idempotency Key' }],
      [404, { detail: 'Not Found' }],
      [400, { code: 'VALIDATION_FAILED', detail: 'Keys for idempotent requests can only be used with the same parameters they were first used with' }],
    ] as const;
    for (const [status, body] of answers) {
      const client = await answering(t, status, body);
      const calls = {
        charge: () => client.charge(request, 'k:charge'),
        capture: () => client.capture('ch_1', 'k:capture', { amount: 1800, currency: 'EUR' }),
        refund: () => client.refund({ chargeId: 'ch_1', amount: 1800 }, 'k:refund', { currency: 'EUR' }),
        payoutRestaurant: () => client.payout({ destination: 'restaurant:x', amount: 1230, currency: 'EUR' }, 'k:payoutRestaurant'),
      };
      for (const [step, call] of Object.entries(calls)) {
        let failure: unknown;
        await assert.rejects(call(), (e: unknown) => ((failure = e), true));
        const error = failure as BrigadeError & { retryable?: boolean };
        assert.deepEqual([error.code, error.retryable, (error.details as { providerStatus?: number } | undefined)?.providerStatus], ['PAYMENT_PROVIDER_OUTCOME_UNKNOWN', true, status], `${status} ${step}: ${String(error)}`);
        assert.match(error.message, new RegExp(`^The payment provider answered POST /\\S+ with ${status}: .*; whether it acted under key k:${step} is unknown: look it up in its ledger`), `${status} ${step}`);
        // The refund, the capture and the payouts retry it with the same key, then park (a 409 on a retry is not a refusal for good).
        if (step !== 'charge') assert.equal(saga.steps[step]!.retryable!(failure), true, `${status} ${step} is retried`);
      }
    }
    // A refusal the provider keeps under the key stays one: a 422 of its own, another 4xx; a key reused with another request; and any 4xx of the ledger, which moves nothing.
    await assert.rejects((await answering(t, 422, { code: 'CHARGE_NOT_CAPTURABLE', detail: 'captured' })).capture('ch_1', 'k', { amount: 1800, currency: 'EUR' }), (e: unknown) => e instanceof PaymentRejectedError && !e.retryable);
    await assert.rejects((await answering(t, 410, { code: 'GONE', detail: 'gone' })).charge(request, 'k'), PaymentRejectedError);
    await assert.rejects((await answering(t, 422, { code: 'IDEMPOTENCY_KEY_REUSED', detail: 'reused' })).charge(request, 'k'), PaymentRequestChangedError);
    await assert.rejects((await answering(t, 404, { detail: 'Not Found' })).ledger(), PaymentRejectedError);
  });
});
