import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { ConfigError, loadConfig, paymentProviderUrlOf } from '../../../../src/platform/config/index.ts';
import { ValidationError } from '../../../../src/platform/errors/index.ts';
import { loadProviderConfig } from '../../../../src/services/payments/provider/index.ts';

test('with no settings, brigade payment-provider listens where the payments saga calls', () => {
  const saga = new URL(paymentProviderUrlOf(loadConfig({}, { services: SERVICE_NAMES })));
  const provider = loadProviderConfig({});
  assert.deepEqual([provider.host, provider.port], [saga.hostname, Number(saga.port)]);
  // PROVIDER_PORT moves both.
  assert.equal(loadProviderConfig({ PROVIDER_PORT: '4100' }).port, Number(new URL(paymentProviderUrlOf(loadConfig({ PROVIDER_PORT: '4100' }, { services: SERVICE_NAMES }))).port));
});

test('with PORT set and no PROVIDER_PORT, brigade payment-provider listens where the payments saga calls (PORT + 1), not on PORT itself', () => {
  for (const port of ['4750', '0', '65535']) {
    const saga = loadConfig({ PORT: port }, { services: SERVICE_NAMES }).providerPort;
    assert.equal(loadProviderConfig({ PORT: port }).port, saga, `PORT=${port}`);
  }
  assert.equal(loadProviderConfig({ PORT: '4750' }).port, 4751);
  // --port and PROVIDER_PORT still win over PORT.
  assert.equal(loadProviderConfig({ PORT: '4750', PROVIDER_PORT: '4760' }).port, 4760);
  assert.equal(loadProviderConfig({ PORT: '4750', PROVIDER_PORT: '4760' }, { port: '4761' }).port, 4761);
  assert.throws(() => loadProviderConfig({ PORT: 'x' }), /PORT: expected an integer from 0 to 65535, got "x"/);
});

// Found by a review of the contracts: the first bad value was thrown alone, named `--latency-ms /
// PROVIDER_LATENCY_MS` whether a flag or a variable gave it (brigade start takes no such flag).
test('bad PROVIDER_* variables are listed together, each by its variable; a bad flag value is named by its flag alone', () => {
  const env = { PROVIDER_LATENCY_MS: 'abc', PROVIDER_HANG_MS: '-1', PROVIDER_DATABASE_URL: 'mysql://db/provider' };
  assert.throws(
    () => loadProviderConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.deepEqual(error.issues.map((i) => i.variable), ['PROVIDER_DATABASE_URL', 'PROVIDER_LATENCY_MS', 'PROVIDER_HANG_MS']);
      assert.doesNotMatch(error.message, /--/);
      assert.match(error.message, /\nSet these variables to valid values/);
      return true;
    },
  );
  assert.throws(() => loadProviderConfig(env, { 'latency-ms': '1e3' }), (error: unknown) => error instanceof ValidationError && error.message === '--latency-ms: expected an integer from 0 to 600000, got "1e3"' && error.details.field === 'latency-ms');
});
