import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { createTokenService, loadOrCreateSecret, MINT_CHAIN_MAX, TOKEN_MAX_LIFETIME_SECONDS, TOKEN_TTL_SECONDS, TokenError } from '../../../src/platform/auth/index.ts';
import { BrigadeError, ValidationError } from '../../../src/platform/errors/index.ts';

const secret = 'a-secret-of-at-least-thirty-two-characters!';
const tokens = createTokenService(secret);
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

test('a signed token verifies to the same principal', async () => {
  const rid = randomUUID();
  const sub = randomUUID();
  const before = Date.now();
  const { expiresAt, issuedAt, ...verified } = await tokens.verify(await tokens.sign({ role: 'staff', restaurantId: rid, subject: sub }, 600));
  assert.deepEqual(verified, { role: 'staff', subject: sub, restaurantId: rid, credentialsVersion: 0 });
  assert.ok(expiresAt !== undefined && Math.abs(expiresAt - (before + 600_000)) <= 2000, 'the token’s expiry, in ms');
  // Its iat, whole seconds, in ms: what a revocation is compared with (decision 0007).
  assert.ok(issuedAt !== undefined && issuedAt % 1000 === 0 && issuedAt <= Date.now() && issuedAt >= Math.floor(before / 1000) * 1000, `the token’s issue time, in ms: ${issuedAt}`);
  const customer = await tokens.verify(await tokens.sign({ role: 'customer' }));
  assert.equal(customer.role, 'customer');
  assert.match(customer.subject, /^[0-9a-f-]{36}$/);
  assert.equal(customer.restaurantId, null);
});

test('expired, forged, tampered and alg=none tokens are refused with stable codes', async () => {
  const expired = await tokens.sign({ role: 'admin', subject: 'ops' }, -10);
  await assert.rejects(tokens.verify(expired), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_EXPIRED' && e.status === 401);
  const forged = await createTokenService('another-secret-of-thirty-two-characters-x').sign({ role: 'admin', subject: 'ops' });
  await assert.rejects(tokens.verify(forged), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID');
  const good = await tokens.sign({ role: 'customer' });
  const [h, , s] = good.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ role: 'admin', sub: 'x', iss: 'brigade', exp: 9e9 })).toString('base64url')}.${s}`;
  await assert.rejects(tokens.verify(tampered), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"role":"admin","sub":"x","iss":"brigade","exp":9999999999}').toString('base64url')}.`;
  await assert.rejects(tokens.verify(none), TokenError);
  // Correctly signed but with a role the platform does not know.
  const weird = await new SignJWT({ role: 'root' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject('x').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  await assert.rejects(tokens.verify(weird), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID');
});

test('claims are validated when signing', async () => {
  await assert.rejects(tokens.sign({ role: 'staff' }), ValidationError);
  await assert.rejects(tokens.sign({ role: 'customer', restaurantId: randomUUID() }), ValidationError);
  await assert.rejects(tokens.sign({ role: 'courier', subject: 'not-a-uuid' }), ValidationError);
});

test("a token's minter rides in its act claim (RFC 8693) and comes back as mintedBy; an act of another shape is refused", async () => {
  const minted = await tokens.verify(await tokens.sign({ role: 'admin', subject: 'alice', mintChain: ['ops'] }));
  assert.equal(minted.mintedBy, 'ops');
  assert.deepEqual(minted.mintChain, ['ops']);
  const plain = await tokens.verify(await tokens.sign({ role: 'admin', subject: 'ops' }));
  assert.equal('mintedBy' in plain || 'mintChain' in plain, false, 'absent without one');
  assert.equal('act' in payloadOf(await tokens.sign({ role: 'admin', subject: 'ops', mintChain: [] })), false, 'an empty chain is no act');
  await assert.rejects(tokens.sign({ role: 'admin', subject: 'alice', mintChain: ['has space'] }), (e: unknown) => e instanceof ValidationError && e.details.field === 'mintChain');
  const key = new TextEncoder().encode(secret);
  for (const act of ['ops', { sub: 7 }, { sub: 'a b' }, null, { sub: 'ops', act: 'root' }, { sub: 'ops', act: { sub: 'a b' } }, { sub: 'ops', act: null }]) {
    const odd = await new SignJWT({ role: 'admin', act }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject('alice').setIssuedAt().setExpirationTime('1h').sign(key);
    await assert.rejects(tokens.verify(odd), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID', JSON.stringify(act));
  }
});

test("a token minted with a minted token carries the whole chain of minters, nested as RFC 8693 nests act (the minter first); a flat act of earlier tokens still verifies; more than 8 is refused", async () => {
  const key = new TextEncoder().encode(secret);
  const chained = await tokens.sign({ role: 'staff', restaurantId: randomUUID(), subject: randomUUID(), mintChain: ['backup', 'ops', 'root'] });
  assert.deepEqual(payloadOf(chained).act, { sub: 'backup', act: { sub: 'ops', act: { sub: 'root' } } });
  const verified = await tokens.verify(chained);
  assert.deepEqual([verified.mintedBy, verified.mintChain], ['backup', ['backup', 'ops', 'root']]);
  // Signed before the chain was carried: one level, as every minted token had.
  const flat = await new SignJWT({ role: 'admin', act: { sub: 'ops' } }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject('alice').setIssuedAt().setExpirationTime('1h').sign(key);
  assert.deepEqual(await tokens.verify(flat).then((p) => [p.mintedBy, p.mintChain]), ['ops', ['ops']]);

  const names = (n: number) => Array.from({ length: n }, (_, i) => `admin-${i + 1}`);
  const nest = (chain: readonly string[]): unknown => (chain.length === 0 ? undefined : { sub: chain[0], ...(chain.length > 1 ? { act: nest(chain.slice(1)) } : {}) });
  assert.equal(MINT_CHAIN_MAX, 8);
  assert.deepEqual((await tokens.verify(await tokens.sign({ role: 'admin', subject: 'deep', mintChain: names(8) }))).mintChain, names(8), '8 levels are carried');
  await assert.rejects(tokens.sign({ role: 'admin', subject: 'deep', mintChain: names(9) }), (e: unknown) => e instanceof ValidationError && e.details.field === 'mintChain' && /at most 8/.test(e.message));
  const nine = await new SignJWT({ role: 'admin', act: nest(names(9)) }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject('deep').setIssuedAt().setExpirationTime('1h').sign(key);
  await assert.rejects(tokens.verify(nine), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID', 'an act nested deeper than 8');
});

test("a customer token carries its customer's credentials version in the cv claim (absent: 0); one of another shape, or on another role, is refused", async () => {
  const key = new TextEncoder().encode(secret);
  const subject = randomUUID();
  const third = await tokens.sign({ role: 'customer', subject, credentialsVersion: 3 });
  assert.equal(payloadOf(third).cv, 3);
  assert.equal((await tokens.verify(third)).credentialsVersion, 3);
  const zero = await tokens.sign({ role: 'customer', subject, credentialsVersion: 0 });
  assert.equal('cv' in payloadOf(zero), false, 'version 0 is the absent claim: tokens signed before the claim existed read as 0');
  assert.equal((await tokens.verify(zero)).credentialsVersion, 0);
  assert.equal((await tokens.verify(await tokens.sign({ role: 'customer', subject }))).credentialsVersion, 0, 'absent: 0');
  assert.equal((await tokens.verify(await tokens.sign({ role: 'admin', subject: 'ops' }))).credentialsVersion, 0, 'other roles: 0');

  for (const credentialsVersion of [-1, 1.5, Number.NaN, 2 ** 31]) {
    await assert.rejects(tokens.sign({ role: 'customer', subject, credentialsVersion }), (e: unknown) => e instanceof ValidationError && e.details.field === 'credentialsVersion', String(credentialsVersion));
  }
  for (const role of ['admin', 'courier'] as const) {
    await assert.rejects(tokens.sign({ role, subject: randomUUID(), credentialsVersion: 1 }), (e: unknown) => e instanceof ValidationError && e.details.field === 'credentialsVersion', role);
  }
  for (const [role, cv] of [['customer', -1], ['customer', '3'], ['customer', 1.5], ['customer', null], ['customer', { v: 1 }], ['customer', 2 ** 31], ['admin', 1], ['courier', 0]] as const) {
    const odd = await new SignJWT({ role, cv }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject(randomUUID()).setIssuedAt().setExpirationTime('1h').sign(key);
    await assert.rejects(tokens.verify(odd), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID', `${role} ${JSON.stringify(cv)}`);
  }
});

test("a customer token says how it may set the first password in an amr claim (signup, reset; absent on others); one of another shape, or on another role, is refused (decision 0007)", async () => {
  const key = new TextEncoder().encode(secret);
  const subject = randomUUID();
  for (const amr of ['signup', 'reset'] as const) {
    const token = await tokens.sign({ role: 'customer', subject, amr });
    assert.deepEqual(payloadOf(token).amr, [amr]);
    assert.equal((await tokens.verify(token)).amr, amr);
  }
  const plain = await tokens.sign({ role: 'customer', subject });
  assert.equal('amr' in payloadOf(plain), false);
  assert.equal((await tokens.verify(plain)).amr, undefined);
  await assert.rejects(tokens.sign({ role: 'courier', subject, amr: 'reset' }), (e: unknown) => e instanceof ValidationError && e.details.field === 'amr');
  for (const [role, amr] of [['customer', 'signup'], ['customer', ['pwd']], ['customer', []], ['customer', ['signup', 'reset']], ['admin', ['reset']], ['courier', ['signup']]] as const) {
    const odd = await new SignJWT({ role, amr }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject(role === 'admin' ? 'ops' : randomUUID()).setIssuedAt().setExpirationTime('1h').sign(key);
    await assert.rejects(tokens.verify(odd), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID', `${role} ${JSON.stringify(amr)}`);
  }
});

test('a stored secret shorter than 32 characters is refused with what to do, not used', async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-secret-'));
  try {
    for (const text of ['', 'short\n']) {
      await fs.writeFile(path.join(home, 'secret'), text);
      await assert.rejects(loadOrCreateSecret(null, home), (e: unknown) => e instanceof BrigadeError && e.code === 'SECRET_INVALID' && /delete the file .* or set BRIGADE_SECRET/.test(e.message));
    }
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test('processes starting together agree on one secret, and leave no file but it', async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-secret-'));
  try {
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecret(null, home)));
    assert.equal(new Set(secrets).size, 1);
    assert.deepEqual(await fs.readdir(home), ['secret']);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test('the secret is generated once and reused; BRIGADE_SECRET wins', async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-secret-'));
  try {
    const first = await loadOrCreateSecret(null, home);
    assert.ok(first.length >= 32);
    assert.equal(await loadOrCreateSecret(null, home), first);
    assert.equal((await fs.stat(path.join(home, 'secret'))).mode & 0o777, 0o600);
    assert.equal(await loadOrCreateSecret('x'.repeat(40), home), 'x'.repeat(40));
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("UUIDs in a token are kept in lower case, as path parameters are taken: a staff token minted with an upper-case restaurant id matches its restaurant's routes", async () => {
  const rid = randomUUID();
  const customer = randomUUID();
  const staff = await tokens.verify(await tokens.sign({ role: 'staff', restaurantId: rid.toUpperCase(), subject: customer.toUpperCase() }));
  assert.deepEqual([staff.restaurantId, staff.subject], [rid, customer]);
  const admin = await tokens.verify(await tokens.sign({ role: 'admin', subject: 'Ops-Team' }));
  // Folded since the forty-ninth session (decision 0007), so that a revocation in any case reaches it; the minters of `act` too.
  assert.equal(admin.subject, 'ops-team', "an admin's subject is a name, compared in lower case");
  const minted = await tokens.verify(await tokens.sign({ role: 'staff', restaurantId: rid, subject: customer, mintChain: ['Night-Ops', 'Root'] }));
  assert.deepEqual(minted.mintChain, ['night-ops', 'root']);
});

test('a token without iat, or living longer than 30 days and a second from it, is refused: it could outlive its revocation (decision 0007)', async () => {
  const key = new TextEncoder().encode(secret);
  const jwt = () => new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject('ops');
  const noIat = await jwt().setExpirationTime('1h').sign(key);
  await assert.rejects(tokens.verify(noIat), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID');
  const now = Math.floor(Date.now() / 1000);
  // As `brigade token --ttl 1e300` signed before --ttl was bounded: a year, issued a day ago.
  const ancient = await jwt().setIssuedAt(now - 86_400).setExpirationTime(now + 365 * 86_400).sign(key);
  await assert.rejects(tokens.verify(ancient), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID' && /lives longer than 30 days .*ask for a new one/.test(e.message));
  const justOver = await jwt().setIssuedAt(now - 10).setExpirationTime(now - 10 + TOKEN_MAX_LIFETIME_SECONDS + 1).sign(key);
  await assert.rejects(tokens.verify(justOver), (e: unknown) => e instanceof TokenError && e.code === 'TOKEN_INVALID');
  // The longest: 30 days, and the second `sign` may tick between its two stamps.
  const longest = await jwt().setIssuedAt(now - 10).setExpirationTime(now - 10 + TOKEN_MAX_LIFETIME_SECONDS).sign(key);
  assert.equal((await tokens.verify(longest)).issuedAt, (now - 10) * 1000);
  assert.equal(TOKEN_MAX_LIFETIME_SECONDS, TOKEN_TTL_SECONDS.max + 1);
  const minted = payloadOf(await tokens.sign({ role: 'admin', subject: 'ops' }, TOKEN_TTL_SECONDS.max));
  assert.ok((minted.exp as number) - (minted.iat as number) <= TOKEN_MAX_LIFETIME_SECONDS, 'the longest token sign makes verifies');
});
