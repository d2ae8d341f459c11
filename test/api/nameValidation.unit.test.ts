import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyPluginAsync } from 'fastify';
import client from 'prom-client';
import { Type } from 'typebox';
import { buildApp, NameText, NameTextOrEmpty } from '../../src/api/index.ts';

// As the customer, courier, restaurant and menu routes declare a name.
const names: FastifyPluginAsync = async (app) => {
  app.post('/names', { schema: { body: Type.Object({ name: NameText(200), currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })) }, { additionalProperties: false }) } }, async (request) => request.body);
  // As an order's cancel declares its reason.
  app.post('/reasons', { schema: { body: Type.Object({ reason: Type.Optional(NameTextOrEmpty(500)) }, { additionalProperties: false }) } }, async (request) => request.body);
};

test('a name with a space at an end gets 400 saying what to fix, not the ~200-character pattern it failed', async (t) => {
  const app = await buildApp({ bodyLimit: 4096, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }), services: [{ name: 'probe', routes: names }] });
  t.after(() => app.close());
  for (const name of ['Ana ', ' Ana', 'A\u202Ena', 'A\nna', '   ', 'Caf\uFFFD', 'Zero\u200Bwidth', 'Word\u2060joiner', 'No\uFEFFbreak', '\u200Dend', '\u00AD', 'Ana\u00AD', '\u3164', '\u3164Ana', '\u115F\u1160', '\uFFA0', '\u180E', '\u2063', '\u200E', '\u200FAna', '\u061C', '\u034F', '\uFE0F', '\u2800', 'Ana\u2800', '\uFE0F', '\u{E007F}Ana']) {
    const res = await app.inject({ method: 'POST', url: '/v1/names', payload: { name } });
    assert.equal(res.statusCode, 400, res.body);
    const problem = res.json() as { code: string; field: string; detail: string };
    assert.deepEqual([problem.code, problem.field], ['VALIDATION_FAILED', 'body.name'], res.body);
    // Before: 'body.name must match pattern "^[^\\x00-\\x1f…' (the regular expression, some 200 characters).
    assert.doesNotMatch(problem.detail, /pattern|\\x00|\^\[/, `${JSON.stringify(name)}: ${problem.detail}`);
    assert.equal(problem.detail, 'body.name must not be blank, start or end with a space or an invisible character, nor hold a control or bidi-override character, a zero-width space or U+FFFD (what bytes that are not UTF-8 become)');
  }
  // The joiners that scripts and emoji need inside a name stay: ZWJ in 👩‍🍳 (woman cook), ZWNJ in Persian.
  for (const name of ['Ana', 'Chef \u{1F469}\u200D\u{1F373}', 'نان\u200Cخانه', 'Kartoffel\u00ADsalat', 'Chef \u2615\uFE0F Bar', 'Caf\u00E9 \u2615\uFE0F', 'I \u2764\uFE0F Pizza', 'Pub \u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', '\u05E9\u05DC\u05D5\u05DD\u200F Cafe']) {
    const res = await app.inject({ method: 'POST', url: '/v1/names', payload: { name } });
    assert.equal(res.statusCode, 200, `${JSON.stringify(name)}: ${res.body}`);
  }
  // Another pattern is said as the validator says it: short, and the field's own.
  const currency = await app.inject({ method: 'POST', url: '/v1/names', payload: { name: 'Ana', currency: 'eur' } });
  assert.equal(currency.json().detail, 'body.currency must match pattern "^[A-Z]{3}$"');
});

test('a text that may be empty is empty or a name: blank, a control, an override or a zero-width space gets the name rule\'s words, after "may be empty"', async (t) => {
  const app = await buildApp({ bodyLimit: 4096, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }), services: [{ name: 'probe', routes: names }] });
  t.after(() => app.close());
  for (const reason of [' ', '\u200B', '\u00AD', '\u3164', 'a\rB', '\u001b[31mX', 'ok \u202eevil', 'one\ntwo']) {
    const res = await app.inject({ method: 'POST', url: '/v1/reasons', payload: { reason } });
    assert.equal(res.statusCode, 400, `${JSON.stringify(reason)}: ${res.body}`);
    assert.deepEqual([res.json().field, res.json().detail], ['body.reason', 'body.reason may be empty; else it must not be blank, start or end with a space or an invisible character, nor hold a control or bidi-override character, a zero-width space or U+FFFD (what bytes that are not UTF-8 become)']);
  }
  for (const payload of [{}, { reason: '' }, { reason: 'Cancelled by the restaurant' }, { reason: 'Chef \u{1F469}\u200D\u{1F373} left' }]) {
    const res = await app.inject({ method: 'POST', url: '/v1/reasons', payload });
    assert.equal(res.statusCode, 200, `${JSON.stringify(payload)}: ${res.body}`);
  }
});
