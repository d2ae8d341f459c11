import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import pg from 'pg';
import { startTestPlatform, TEST_SECRET, type TestPlatform } from '../../support/platform.ts';

const PASSWORD = 'correct horse battery staple';

/**
 * Staff, courier and admin tokens can be revoked before they expire (decision 0007, "Fixed later
 * (forty-fourth session): staff, courier and admin tokens can be revoked"): an admin revokes a role and
 * subject (`POST /v1/admin/token-revocations`), and every token of them issued at or before the
 * revocation's second is refused with 401 `TOKEN_REVOKED`; tokens minted after it work.
 */
describe('token revocation by role and subject', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  let admin: string;
  let rid: string;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 2 });
    admin = await t.token('admin', { subject: 'ops' });
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Revoked Bistro', city: 'Porto' } });
    assert.equal(restaurant.statusCode, 201, restaurant.body);
    rid = restaurant.json().id;
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  type Revocation = { role: string; subject: string; revokedBefore: string; validFrom: string; revokedBy: string; reason: string | null; unmatched?: string };
  const revoke = async (body: Record<string, unknown>, token = admin) => {
    const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token, payload: body });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Revocation;
  };
  /** The status and code a request with `token` gets from a route its role may use. */
  const use = async (token: string, url: string) => {
    const res = await t.request({ url, token });
    return res.statusCode === 200 ? { status: 200 } : { status: res.statusCode, code: res.json().code as string, detail: res.json().detail as string };
  };
  const assertRevoked = async (token: string, url: string, what: string) => {
    const res = await use(token, url);
    assert.deepEqual([res.status, res.code], [401, 'TOKEN_REVOKED'], `${what}: ${JSON.stringify(res)}`);
    assert.match(res.detail!, /was revoked by an admin/, what);
    assert.match(res.detail!, /for a new token/, what);
  };
  const courier = async () => {
    const res = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rui', city: 'Porto' } });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const mint = async (body: Record<string, unknown>) => {
    const res = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: body });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().token as string;
  };
  /** A token signed with the platform's secret whose `iat` is `iat` (whole seconds), as a minting process would have signed it then. */
  const signedAt = (iat: number, claims: Record<string, unknown>, subject: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('brigade')
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(new TextEncoder().encode(TEST_SECRET));
  const seconds = (iso: string) => Date.parse(iso) / 1000;
  const staffUrl = () => `/v1/restaurants/${rid}/staff`;

  test('a revoked staff member, courier and admin are refused (401 TOKEN_REVOKED) while other subjects go on; a token minted after the revocation works', async () => {
    const [fired, colleague] = [randomUUID(), randomUUID()];
    const firedToken = await t.token('staff', { restaurantId: rid, subject: fired });
    const firedMinted = await mint({ role: 'staff', restaurantId: rid, subject: fired, ttlSeconds: 30 * 24 * 3600 });
    const colleagueToken = await t.token('staff', { restaurantId: rid, subject: colleague });
    const [removed, other] = [await courier(), await courier()];
    const removedToken = await t.token('courier', { subject: removed });
    const otherCourier = await t.token('courier', { subject: other });
    const leaked = await t.token('admin', { subject: 'leaked' });
    for (const [token, url] of [[firedToken, staffUrl()], [firedMinted, staffUrl()], [removedToken, '/v1/couriers/me'], [leaked, '/v1/admin/token-revocations']] as const) {
      assert.deepEqual(await use(token, url), { status: 200 }, url);
    }

    const staffRevocation = await revoke({ role: 'staff', subject: fired.toUpperCase(), reason: 'left the restaurant' });
    // `fired` is a random subject with no staff row: the answer says so (unmatched), and the revocation stands.
    assert.deepEqual({ ...staffRevocation, revokedBefore: undefined, validFrom: undefined, unmatched: undefined }, { role: 'staff', subject: fired, revokedBy: 'ops', reason: 'left the restaurant', revokedBefore: undefined, validFrom: undefined, unmatched: undefined });
    assert.match(staffRevocation.unmatched ?? '', /No staff has the id/);
    assert.equal(seconds(staffRevocation.validFrom), seconds(staffRevocation.revokedBefore) + 1, 'tokens issued from the next whole second on are valid');
    await revoke({ role: 'courier', subject: removed });
    await revoke({ role: 'admin', subject: 'leaked', reason: 'pasted into a ticket' });

    await assertRevoked(firedToken, staffUrl(), 'the fired staff member');
    await assertRevoked(firedMinted, staffUrl(), "the fired staff member's 30-day token");
    await assertRevoked(removedToken, '/v1/couriers/me', 'the removed courier');
    await assertRevoked(leaked, '/v1/admin/token-revocations', 'the leaked admin token');
    // On every route, the public ones too: the check runs before any.
    await assertRevoked(firedToken, `/v1/restaurants?city=Porto`, 'a public route');

    assert.deepEqual(await use(colleagueToken, staffUrl()), { status: 200 }, 'a colleague');
    assert.deepEqual(await use(otherCourier, '/v1/couriers/me'), { status: 200 }, 'another courier');
    assert.deepEqual(await use(admin, '/v1/admin/token-revocations'), { status: 200 }, 'another admin');
    // A revocation is of a role and a subject: the same id in another role is not revoked.
    assert.deepEqual(await use(await t.token('customer', { subject: removed }), '/v1/customers/me/orders'), { status: 200 }, 'a customer token of the courier id');

    // Minted right after the answer: the answer came once tokens minted from then on are valid.
    assert.deepEqual(await use(await mint({ role: 'staff', restaurantId: rid, subject: fired }), staffUrl()), { status: 200 }, 'a staff token minted after');
    assert.deepEqual(await use(await t.token('courier', { subject: removed }), '/v1/couriers/me'), { status: 200 }, 'a courier token signed after');
    assert.deepEqual(await use(await t.token('admin', { subject: 'leaked' }), '/v1/admin/token-revocations'), { status: 200 }, 'an admin token signed after');
  });

  test("the revocation's second: a token issued in it or before is refused, one issued from the next second (validFrom) on works", async () => {
    const subject = randomUUID();
    const revocation = await revoke({ role: 'staff', subject });
    const at = seconds(revocation.revokedBefore);
    assert.ok(Number.isInteger(at), 'stored in whole seconds, as iat is');
    const claims = { role: 'staff', rid };
    await assertRevoked(await signedAt(at - 1, claims, subject), staffUrl(), 'issued the second before');
    await assertRevoked(await signedAt(at, claims, subject), staffUrl(), 'issued in the same second (it may have been minted before the revocation within it)');
    assert.deepEqual(await use(await signedAt(seconds(revocation.validFrom), claims, subject), staffUrl()), { status: 200 }, 'issued at validFrom');
    // A token without iat cannot be placed in time: refused whether or not a revocation is kept (decision 0007, forty-ninth session).
    const noIat = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('brigade').setSubject(subject).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_SECRET));
    const undated = await use(noIat, staffUrl());
    assert.deepEqual([undated.status, undated.code], [401, 'TOKEN_INVALID'], 'no iat');
  });

  test('revoking a subject again later moves its time forward: a token minted between the two is refused after the second', async () => {
    const subject = randomUUID();
    const first = await revoke({ role: 'courier', subject, reason: 'first' });
    const between = await t.token('courier', { subject });
    assert.deepEqual(await use(between, '/v1/restaurants'), { status: 200 });
    const second = await revoke({ role: 'courier', subject, reason: 'second' });
    assert.ok(seconds(second.revokedBefore) > seconds(first.revokedBefore), `${second.revokedBefore} after ${first.revokedBefore}`);
    await assertRevoked(between, '/v1/restaurants', 'minted between the two revocations');
    const rows = await owner.query('select reason, revoked_by from platform.token_revocations where role = $1 and subject = $2', ['courier', subject]);
    assert.deepEqual(rows.rows, [{ reason: 'second', revoked_by: 'ops' }], 'one row per role and subject, the latest reason');
  });

  test('a customer revocation refuses their tokens and leaves the password and credentials version alone: they sign in again', async () => {
    const email = `rv-${randomUUID()}@example.com`;
    const signedUp = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua 2', password: PASSWORD } });
    assert.equal(signedUp.statusCode, 201, signedUp.body);
    const { id, token } = signedUp.json() as { id: string; token: string };
    await revoke({ role: 'customer', subject: id, reason: 'phone stolen' });
    await assertRevoked(token, '/v1/customers/me', 'the sign-up token');
    const version = await owner.query('select credentials_version as v from platform.customers where id = $1', [id]);
    assert.equal(version.rows[0].v, 0);
    const signedIn = await t.request({ method: 'POST', url: '/v1/customers/sign-in', payload: { email, password: PASSWORD } });
    assert.equal(signedIn.statusCode, 200, signedIn.body);
    assert.deepEqual(await use(signedIn.json().token, '/v1/customers/me'), { status: 200 });
  });

  test('the list: newest first, with who revoked and why; ?limit bounds it', async () => {
    const subject = randomUUID();
    await revoke({ role: 'staff', subject, reason: 'listed' });
    const res = await t.request({ url: '/v1/admin/token-revocations?limit=1', token: admin });
    assert.equal(res.statusCode, 200, res.body);
    const { revocations } = res.json() as { revocations: Revocation[] };
    assert.equal(revocations.length, 1);
    assert.deepEqual({ ...revocations[0], revokedBefore: undefined, validFrom: undefined }, { role: 'staff', subject, revokedBy: 'ops', reason: 'listed', revokedBefore: undefined, validFrom: undefined });
    const all = (await t.request({ url: '/v1/admin/token-revocations', token: admin })).json() as { revocations: Revocation[] };
    assert.ok(all.revocations.length > 1);
    const times = all.revocations.map((r) => Date.parse(r.revokedBefore));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  });

  test('bad input is 400 naming the field; a token of another role is 403 and none 401; nothing is written', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ subject: randomUUID() }, 'body.role'],
      [{ role: 'root', subject: randomUUID() }, 'body.role'],
      [{ role: 'staff' }, 'body.subject'],
      [{ role: 'staff', subject: 'not-a-uuid' }, 'body.subject'],
      [{ role: 'admin', subject: 'has space' }, 'body.subject'],
      [{ role: 'staff', subject: randomUUID(), reason: '' }, 'body.reason'],
      [{ role: 'staff', subject: randomUUID(), reason: 'line\nbreak' }, 'body.reason'],
      [{ role: 'staff', subject: randomUUID(), reason: 'x'.repeat(501) }, 'body.reason'],
      [{ role: 'staff', subject: randomUUID(), until: 'tomorrow' }, 'body.until'],
    ];
    for (const [body, field] of cases) {
      const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: body });
      assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'VALIDATION_FAILED', field], `${JSON.stringify(body)}: ${res.body}`);
    }
    const subject = randomUUID();
    for (const token of [await t.token('staff', { restaurantId: rid, subject: randomUUID() }), await t.token('courier', { subject: randomUUID() }), await t.token('customer', { subject: randomUUID() })]) {
      const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token, payload: { role: 'staff', subject } });
      assert.deepEqual([res.statusCode, res.json().code], [403, 'FORBIDDEN'], res.body);
      const list = await t.request({ url: '/v1/admin/token-revocations', token });
      assert.deepEqual([list.statusCode, list.json().code], [403, 'FORBIDDEN'], list.body);
    }
    const anonymous = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', payload: { role: 'staff', subject } });
    assert.deepEqual([anonymous.statusCode, anonymous.json().code], [401, 'UNAUTHORIZED'], anonymous.body);
    assert.equal((await owner.query('select 1 from platform.token_revocations where subject = $1', [subject])).rowCount, 0);
  });

  test("the admin's revocation is audited: who, what, and the revocation's time", async () => {
    const subject = randomUUID();
    const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role: 'staff', subject, reason: 'audited' } });
    assert.equal(res.statusCode, 200, res.body);
    const { rows } = await owner.query<{ actor_id: string; method: string; route: string; status: number; target: Record<string, unknown> }>(
      'select actor_id, method, route, status, target from platform.admin_audit where request_id = $1',
      [res.headers['x-request-id']],
    );
    assert.equal(rows.length, 1, JSON.stringify(res.headers));
    const [entry] = rows;
    assert.deepEqual([entry!.actor_id, entry!.method, entry!.route, entry!.status], ['ops', 'POST', '/v1/admin/token-revocations', 200]);
    assert.deepEqual(entry!.target.revoked, { role: 'staff', subject, reason: 'audited', revokedBefore: res.json().revokedBefore });
  });

  /** A token `minter` mints through `POST /v1/tokens`. */
  const mintWith = async (minter: string, body: Record<string, unknown>) => {
    const res = await t.request({ method: 'POST', url: '/v1/tokens', token: minter, payload: body });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().token as string;
  };
  const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  /** `chain` as RFC 8693 nests it in `act`: the minter first, then whoever minted the minter's token. */
  const nest = (chain: readonly string[]): Record<string, unknown> => ({ sub: chain[0], ...(chain.length > 1 ? { act: nest(chain.slice(1)) } : {}) });

  test("revoking an admin refuses the tokens it minted, and the tokens those minted, whatever their role; the answer says so; other admins' tokens, and tokens minted after, work", async () => {
    const minter = `minter-${randomUUID().slice(0, 8)}`;
    const minterToken = await mint({ role: 'admin', subject: minter });
    // The leak of the finding: minter's token mints a 30-day admin token under another name, which mints more.
    const backup = await mintWith(minterToken, { role: 'admin', subject: `backup-${minter}`, ttlSeconds: 30 * 24 * 3600 });
    const deep = await mintWith(backup, { role: 'admin', subject: `deep-${minter}` });
    const staffToken = await mintWith(minterToken, { role: 'staff', restaurantId: rid, subject: randomUUID() });
    const courierToken = await mintWith(backup, { role: 'courier', subject: await courier() });
    assert.deepEqual(payloadOf(deep).act, { sub: `backup-${minter}`, act: { sub: minter, act: { sub: 'ops' } } }, 'the whole chain, nested');
    const bystander = await mint({ role: 'admin', subject: `bystander-${minter}` });
    for (const [token, url] of [[backup, '/v1/admin/token-revocations'], [deep, '/v1/admin/token-revocations'], [staffToken, staffUrl()], [courierToken, '/v1/couriers/me']] as const) {
      assert.deepEqual(await use(token, url), { status: 200 }, url);
    }

    const revocation = (await revoke({ role: 'admin', subject: minter, reason: 'leaked' })) as Revocation & { alsoRefused?: string };
    assert.match(revocation.alsoRefused ?? '', new RegExp(`tokens ${minter} minted .*are refused too`), JSON.stringify(revocation));
    assert.match(revocation.alsoRefused ?? '', /mint again/);

    await assertRevoked(minterToken, '/v1/admin/token-revocations', 'the revoked admin');
    for (const [token, url, what] of [
      [backup, '/v1/admin/token-revocations', 'the 30-day admin token it minted'],
      [deep, '/v1/admin/token-revocations', 'an admin token minted with that one'],
      [staffToken, staffUrl(), 'a staff token it minted'],
      [courierToken, '/v1/couriers/me', 'a courier token minted with its admin token'],
    ] as const) {
      await assertRevoked(token, url, what);
      const { detail } = await use(token, url);
      assert.match(detail!, new RegExp(`minted through admin ${minter}, whose tokens were revoked`), what);
    }
    // The backdoor of the finding: the minted token can no longer mint a fresh token of the revoked admin.
    const backdoor = await t.request({ method: 'POST', url: '/v1/tokens', token: backup, payload: { role: 'admin', subject: minter } });
    assert.deepEqual([backdoor.statusCode, backdoor.json().code], [401, 'TOKEN_REVOKED']);

    assert.deepEqual(await use(bystander, '/v1/admin/token-revocations'), { status: 200 }, "a token another admin minted");
    assert.deepEqual(await use(admin, '/v1/admin/token-revocations'), { status: 200 }, 'the admin who minted the revoked one');
    // Minted after the revocation: by the revoked admin's new token, and anew by another admin.
    const fresh = await t.token('admin', { subject: minter });
    assert.deepEqual(await use(await mintWith(fresh, { role: 'admin', subject: `backup-${minter}` }), '/v1/admin/token-revocations'), { status: 200 }, 'minted by its new token');
    assert.deepEqual(await use(await mint({ role: 'staff', restaurantId: rid, subject: randomUUID() }), staffUrl()), { status: 200 }, 'minted again by another admin');
  });

  test("a minted token's issue second against its minter's revocation: issued in it or before is refused, from validFrom on works; a flat act of earlier tokens counts as well", async () => {
    const minter = `second-${randomUUID().slice(0, 8)}`;
    const revocation = await revoke({ role: 'admin', subject: minter });
    const [at, from] = [seconds(revocation.revokedBefore), seconds(revocation.validFrom)];
    for (const act of [{ sub: minter }, nest(['middle', minter, 'ops']), nest(['a', 'b', 'c', 'd', 'e', 'f', 'g', minter])]) {
      const what = JSON.stringify(act);
      await assertRevoked(await signedAt(at - 1, { role: 'admin', act }, 'x'), '/v1/admin/token-revocations', `the second before: ${what}`);
      await assertRevoked(await signedAt(at, { role: 'admin', act }, 'x'), '/v1/admin/token-revocations', `the same second: ${what}`);
      assert.deepEqual(await use(await signedAt(from, { role: 'admin', act }, 'x'), '/v1/admin/token-revocations'), { status: 200 }, `at validFrom: ${what}`);
    }
    // Another role's revocation of the same name is not an admin's: the chain names admins.
    const name = randomUUID();
    await revoke({ role: 'staff', subject: name });
    assert.deepEqual(await use(await signedAt(at, { role: 'admin', act: { sub: name } }, 'x'), '/v1/admin/token-revocations'), { status: 200 }, 'a staff revocation of the same name');
  });

  test('a chain of minters is bounded: a token minted through 8 admins cannot mint (403 MINT_CHAIN_TOO_LONG, saying what to do); one through 7 can', async () => {
    const now = Math.floor(Date.now() / 1000);
    const chain = Array.from({ length: 8 }, (_, i) => `link-${i + 1}`);
    const eight = await signedAt(now, { role: 'admin', act: nest(chain) }, 'end');
    assert.deepEqual(await use(eight, '/v1/admin/token-revocations'), { status: 200 }, 'it verifies and works');
    const refused = await t.request({ method: 'POST', url: '/v1/tokens', token: eight, payload: { role: 'admin', subject: 'ninth' } });
    assert.deepEqual([refused.statusCode, refused.json().code], [403, 'MINT_CHAIN_TOO_LONG'], refused.body);
    assert.match(refused.json().detail, /8 admins/);
    assert.match(refused.json().detail, /brigade token --role admin/);
    const seven = await signedAt(now, { role: 'admin', act: nest(chain.slice(1)) }, 'link-1');
    const minted = await mintWith(seven, { role: 'admin', subject: 'end' });
    assert.deepEqual(payloadOf(minted).act, nest(chain));
    assert.deepEqual(await use(minted, '/v1/admin/token-revocations'), { status: 200 });
  });

  test('a request made with a revoked admin token is audited (actor, route, 401, the refusal); an audit that cannot be written leaves it a 401', async () => {
    const leaked = `audited-${randomUUID().slice(0, 8)}`;
    const minter = await t.token('admin', { subject: leaked });
    const minted = await mintWith(minter, { role: 'admin', subject: `minted-${leaked}` });
    await revoke({ role: 'admin', subject: leaked });
    const entriesOf = async (res: { headers: Record<string, unknown> }) =>
      (
        await owner.query<{ actor_id: string; method: string; route: string; status: number; target: Record<string, unknown> }>(
          'select actor_id, method, route, status, target from platform.admin_audit where request_id = $1',
          [res.headers['x-request-id']],
        )
      ).rows.map((r) => [r.actor_id, r.method, r.route, r.status, r.target.refused, r.target.mintedBy, r.target.minted]);
    const own = await t.request({ url: '/v1/admin/token-revocations', token: minter });
    assert.deepEqual([own.statusCode, own.json().code], [401, 'TOKEN_REVOKED']);
    assert.deepEqual(await entriesOf(own), [[leaked, 'GET', '/v1/admin/token-revocations', 401, 'TOKEN_REVOKED', undefined, undefined]], 'the revoked token itself');
    const chained = await t.request({ method: 'POST', url: '/v1/tokens', token: minted, payload: { role: 'admin', subject: leaked } });
    assert.deepEqual([chained.statusCode, chained.json().code], [401, 'TOKEN_REVOKED']);
    // Nothing minted, so no target.minted.
    assert.deepEqual(await entriesOf(chained), [[`minted-${leaked}`, 'POST', '/v1/tokens', 401, 'TOKEN_REVOKED', leaked, undefined]], 'a token the revoked admin minted');

    await owner.query('alter table platform.admin_audit add constraint refuse_all check (false) not valid');
    try {
      const res = await t.request({ url: '/v1/admin/token-revocations', token: minter });
      assert.deepEqual([res.statusCode, res.json().code], [401, 'TOKEN_REVOKED'], 'not 503: the audit of a refusal is best-effort');
      const admitted = await use(admin, '/v1/restaurants');
      assert.deepEqual([admitted.status, admitted.code], [503, 'AUDIT_UNAVAILABLE'], 'an admin request let in still fails closed');
    } finally {
      await owner.query('alter table platform.admin_audit drop constraint refuse_all');
    }
  });

  test('Row-Level Security: the token check reads revocations and writes none; admins write them; neither deletes one; other actors read none', async () => {
    const subject = randomUUID();
    await revoke({ role: 'staff', subject });
    const uow = t.platform.deps.unitOfWork;
    const as = (actor: { kind: 'system' | 'admin' | 'staff' | 'courier' | 'customer'; id: string }, sql: string, tenantId: string | null = null) =>
      uow({ service: 'platform', actor, tenantId }, (tx) => tx.query(sql, [subject]));
    const check = { kind: 'system', id: 'token-check' } as const;
    assert.equal((await as(check, 'select 1 from platform.token_revocations where subject = $1')).rowCount, 1);
    assert.equal((await as(check, "update platform.token_revocations set revoked_before = 'epoch' where subject = $1")).rowCount, 0, 'it moves no revocation back');
    await assert.rejects(as(check, "insert into platform.token_revocations (role, subject, revoked_before, revoked_by) values ('admin', $1, now(), 'x')"), { code: '42501' });
    // Only the retention actor deletes, and only revocations whose tokens have all expired (platform
    // migration 0038; tokenRevocationRetention.int.test.ts).
    assert.equal((await as({ kind: 'admin', id: 'ops' }, 'delete from platform.token_revocations where subject = $1')).rowCount, 0, 'an admin may not undo a revocation by deleting it');
    assert.equal((await as(check, 'delete from platform.token_revocations where subject = $1')).rowCount, 0, 'nor the token check');
    assert.equal((await as(check, 'select 1 from platform.token_revocations where subject = $1')).rowCount, 1, 'the revocation stands');
    for (const actor of [{ kind: 'system', id: 'customer-keys' }, { kind: 'staff', id: subject }, { kind: 'courier', id: randomUUID() }, { kind: 'customer', id: randomUUID() }] as const) {
      assert.equal((await as(actor, 'select 1 from platform.token_revocations where subject = $1', actor.kind === 'staff' ? rid : null)).rowCount, 0, `${actor.kind} ${actor.id}`);
    }
  });

  test('admin names are one subject whatever their case: a mixed-case token signed before is revoked by either spelling, its minted tokens too, and tokens are signed folded', async () => {
    const now = Math.floor(Date.now() / 1000) - 5;
    const tag = randomUUID().slice(0, 8);
    const leaked = await signedAt(now, { role: 'admin' }, `Night-Ops-${tag}`);
    const mintedWithIt = await signedAt(now, { role: 'staff', rid, act: { sub: `Night-Ops-${tag}` } }, randomUUID());
    assert.deepEqual(await use(leaked, '/v1/admin/token-revocations'), { status: 200 });
    const revoked = await revoke({ role: 'admin', subject: `night-ops-${tag}`, reason: 'leaked' });
    assert.equal(revoked.subject, `night-ops-${tag}`);
    await assertRevoked(leaked, '/v1/admin/token-revocations', 'the mixed-case token, revoked in lower case');
    await assertRevoked(mintedWithIt, staffUrl(), 'a token it minted');
    const other = await signedAt(now, { role: 'admin' }, `day-ops-${tag}`);
    assert.equal((await revoke({ role: 'admin', subject: `DAY-OPS-${tag}` })).subject, `day-ops-${tag}`);
    await assertRevoked(other, '/v1/admin/token-revocations', 'a lower-case token, revoked in upper case');
    const signed = await t.token('admin', { subject: `Mixed-Case-${tag}` });
    const payload = JSON.parse(Buffer.from(signed.split('.')[1]!, 'base64url').toString()) as { sub: string };
    assert.equal(payload.sub, `mixed-case-${tag}`);
  });

  test('revocations of mixed-case admin names made before are folded by the migration, keeping the later time, so their tokens stay refused', async () => {
    const tag = randomUUID().slice(0, 8);
    const now = Math.floor(Date.now() / 1000) - 60;
    const insert = 'insert into platform.token_revocations (role, subject, revoked_before, revoked_by, reason) values ($1, $2, to_timestamp($3), $4, $5)';
    await owner.query(insert, ['admin', `Solo-${tag}`, now, 'ops', 'leaked']);
    await owner.query(insert, ['admin', `Twice-${tag}`, now, 'ops', 'later']);
    await owner.query(insert, ['admin', `twice-${tag}`, now - 100, 'ops', 'earlier']);
    await owner.query(insert, ['staff', randomUUID().toUpperCase(), now, 'ops', null]);
    const sql = await readFile(new URL('../../../src/services/platform/migrations/0039_admin_subjects_fold_case.sql', import.meta.url), 'utf8');
    await owner.query(sql);
    const { rows } = await owner.query<{ subject: string; at: number; reason: string }>(
      `select subject, extract(epoch from revoked_before)::int as at, reason from platform.token_revocations where role = 'admin' and lower(subject) in ($1, $2) order by subject`,
      [`solo-${tag}`, `twice-${tag}`],
    );
    assert.deepEqual(rows, [
      { subject: `solo-${tag}`, at: now, reason: 'leaked' },
      { subject: `twice-${tag}`, at: now, reason: 'later' },
    ]);
    const { rows: staff } = await owner.query(`select 1 from platform.token_revocations where role <> 'admin' and subject <> lower(subject)`);
    assert.equal(staff.length, 1, 'other roles are left as they are (their subjects are UUIDs, folded when checked)');
    await assertRevoked(await signedAt(now - 1, { role: 'admin' }, `Solo-${tag}`), '/v1/admin/token-revocations', 'a token of the name revoked before');
  });

  test('the answer says when the subject matches nothing known (no row for the UUID, no audit entry for the admin name), and stays a 200', async () => {
    const nobody = (await revoke({ role: 'admin', subject: `nobody-${randomUUID().slice(0, 8)}` })).unmatched;
    assert.match(nobody ?? '', /audit/, 'an admin name never seen');
    const known = `Known-Admin-${randomUUID().slice(0, 8)}`;
    assert.equal((await t.request({ url: '/v1/admin/token-revocations?limit=1', token: await t.token('admin', { subject: known }) })).statusCode, 200);
    assert.equal((await revoke({ role: 'admin', subject: known.toUpperCase() })).unmatched, undefined, 'its request is in the audit log, in any case');
    const minted = `minted-${randomUUID().slice(0, 8)}`;
    await mint({ role: 'admin', subject: minted });
    assert.equal((await revoke({ role: 'admin', subject: minted })).unmatched, undefined, 'minted, never used: the mint is in the audit log');
    for (const role of ['staff', 'courier', 'customer']) {
      assert.match((await revoke({ role, subject: randomUUID() })).unmatched ?? '', new RegExp(`No ${role}`), role);
    }
    const staffRow = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/staff`, token: admin, payload: { name: 'Ines', email: `ines-${randomUUID()}@example.com`, role: 'staff' } });
    assert.equal(staffRow.statusCode, 201, staffRow.body);
    assert.equal((await revoke({ role: 'staff', subject: staffRow.json().id })).unmatched, undefined);
    assert.equal((await revoke({ role: 'courier', subject: await courier() })).unmatched, undefined);
    const customer = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email: `u-${randomUUID()}@example.com`, address: 'Rua 2' } });
    assert.equal((await revoke({ role: 'customer', subject: customer.json().id })).unmatched, undefined);
  });
});
