import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PaymentMethodMissingError, paymentMethodsOf } from '../../../src/services/payments/index.ts';

const onFile = new Map([['c-1', '5555555555554444']]);
const cards = { cardOf: async (customerId: string) => onFile.get(customerId) ?? null };
const order = (customerId: string) => ({ restaurantId: 'r', customerId, orderId: 'o' });

test('the card on file first, else PAYMENT_DEFAULT_CARD; with neither, a non-retryable PAYMENT_METHOD_MISSING', async () => {
  assert.equal(await paymentMethodsOf(cards, '4242424242424242').cardFor(order('c-1')), '5555555555554444');
  assert.equal(await paymentMethodsOf(cards, '4242424242424242').cardFor(order('c-2')), '4242424242424242');
  assert.equal(await paymentMethodsOf(cards, null).cardFor(order('c-1')), '5555555555554444');
  await assert.rejects(paymentMethodsOf(cards, null).cardFor(order('c-2')), (error: unknown) => {
    assert.ok(error instanceof PaymentMethodMissingError);
    assert.deepEqual([error.code, error.retryable], ['PAYMENT_METHOD_MISSING', false], 'the saga fails the charge for good: the order is cancelled');
    return true;
  });
});
