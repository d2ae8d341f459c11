import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig, paymentProviderUrlOf } from '../../../../src/platform/config/index.ts';
import { loadProviderConfig } from '../../../../src/services/payments/provider/index.ts';

test('with no settings, brigade payment-provider listens where the payments saga calls', () => {
  const saga = new URL(paymentProviderUrlOf(loadConfig({}, { services: SERVICE_NAMES })));
  const provider = loadProviderConfig({});
  assert.deepEqual([provider.host, provider.port], [saga.hostname, Number(saga.port)]);
  // PROVIDER_PORT moves both.
  assert.equal(loadProviderConfig({ PROVIDER_PORT: '4100' }).port, Number(new URL(paymentProviderUrlOf(loadConfig({ PROVIDER_PORT: '4100' }, { services: SERVICE_NAMES }))).port));
});
