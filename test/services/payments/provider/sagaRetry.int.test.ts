import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { unitOfWork } from '../../../../src/platform/db/index.ts';
import { createSagaRegistry, createSagaRunner, defineSaga, loadSaga, startSaga } from '../../../../src/platform/sagas/index.ts';
import { createPaymentProviderClient, type Charge } from '../../../../src/services/payments/provider/index.ts';
import { eventually } from '../../../support/eventually.ts';
import { listeningProvider, withFaults } from './support.ts';

describe('a saga step calling the provider: timeout, then success on retry', () => {
  const stub = listeningProvider(6);

  test('the retried step sends the same key ${sagaId}:charge and the ledger shows one charge', async () => {
    // Only the call whose answer the stand-in holds for 10 s gives up early; the others wait longer than a loaded machine takes.
    const impatient = createPaymentProviderClient({ baseUrl: stub.baseUrl, timeoutMs: 1500 });
    const provider = createPaymentProviderClient({ baseUrl: stub.baseUrl, timeoutMs: 30_000 });
    let calling = impatient;
    const saga = defineSaga<{ chargeId: string | null; reference: string }, { reference: string }>({
      name: 'pay',
      initialState: { chargeId: null, reference: '' },
      start: (s, input) => ({ state: { ...s, reference: input.reference }, run: ['charge'] }),
      steps: { charge: { action: (ctx) => calling.charge({ amount: 1999, currency: 'EUR', card: '4242424242424242', reference: ctx.state.reference }, ctx.idempotencyKey) } },
      on: { 'charge.succeeded': (s, e) => ({ state: { ...s, chargeId: (e.data as Charge).id }, complete: true }) },
    });
    const registry = createSagaRegistry({ schema: 'payments', sagas: [saga] });
    const uow = <T,>(ctx: Parameters<typeof unitOfWork>[1], fn: Parameters<typeof unitOfWork<T>>[2]) => unitOfWork(stub.pool, ctx, fn);
    const runner = createSagaRunner({ unitOfWork: uow, service: 'payments', registry, backoffMs: () => 0 });
    const tenantId = randomUUID();
    const reference = randomUUID();
    const ctx = { service: 'payments', tenantId, actor: { kind: 'system', id: 'test' } } as const;
    const { instance } = await uow(ctx, (tx) => startSaga(tx, registry, { name: 'pay', input: { reference } }));

    assert.equal(await withFaults(stub, { timeoutRate: 1, hangMs: 10_000 }, () => runner.runOnce()), true);
    const afterTimeout = await uow(ctx, (tx) => loadSaga(tx, registry, instance.id));
    assert.deepEqual([afterTimeout?.status, afterTimeout?.pending, afterTimeout?.attempts], ['running', ['charge'], 1]);
    // The provider charged although the answer was lost (its commit may land after the client gave up).
    await eventually('the lost charge in the ledger', () => provider.ledger({ reference }), (e) => e.length === 1, 30_000);

    calling = provider;
    while (await runner.runOnce());
    const done = await uow(ctx, (tx) => loadSaga<{ chargeId: string }>(tx, registry, instance.id));
    assert.equal(done?.status, 'completed');
    const ledger = await provider.ledger({ reference });
    assert.deepEqual(ledger.map((e) => [e.movement, e.amount, e.idempotencyKey, e.chargeId]), [['authorization', 1999, `${instance.id}:charge`, done?.state.chargeId]]);
  });
});
