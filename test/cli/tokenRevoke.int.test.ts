import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runCli, runMain } from '../support/cli.ts';
import { startTestPlatform, TEST_SECRET, type TestPlatform } from '../support/platform.ts';

/**
 * `brigade token revoke --role ROLE --subject ID [--reason TEXT]` (decision 0007, "Fixed later
 * (forty-fourth session): staff, courier and admin tokens can be revoked"): the CLI's way to what
 * `POST /v1/admin/token-revocations` does, for whoever holds the database and the secret.
 */
describe('brigade token revoke', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  let env: Record<string, string>;
  let rid: string;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 1 });
    env = { DATABASE_URL: t.db.url, BRIGADE_SECRET: TEST_SECRET };
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: await t.token('admin', { subject: 'ops' }), payload: { name: 'Cli Bistro', city: 'Porto' } });
    assert.equal(restaurant.statusCode, 201, restaurant.body);
    rid = restaurant.json().id;
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });
  const status = async (token: string) => {
    const res = await t.request({ url: `/v1/restaurants/${rid}/staff`, token });
    return res.statusCode === 200 ? 200 : `${res.statusCode} ${res.json().code}`;
  };

  test('revokes a staff member’s tokens end to end, says from when new ones are valid, and is audited as cli; a token minted right after works', async () => {
    const subject = randomUUID();
    const before = await t.token('staff', { restaurantId: rid, subject });
    assert.equal(await status(before), 200);
    const revoked = await runCli(['token', 'revoke', '--role', 'staff', '--subject', subject, '--reason', 'left the restaurant'], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    const said = /^revoked the staff tokens of ([0-9a-f-]{36}) issued up to (\S+) \(that second included\); tokens issued from (\S+) on are valid \(brigade token --role staff --restaurant ID --subject \1 mints one\)$/m.exec(revoked.stdout);
    assert.ok(said, revoked.stdout);
    assert.equal(said[1], subject);
    assert.equal(Date.parse(said[3]!) - Date.parse(said[2]!), 1000);
    assert.equal(await status(before), '401 TOKEN_REVOKED');

    const minted = await runCli(['token', '--role', 'staff', '--restaurant', rid, '--subject', subject], env);
    assert.equal(minted.code, 0, minted.stderr);
    assert.equal(await status(minted.stdout.trim()), 200, 'minting works as before, and the new token passes');

    const { rows } = await owner.query('select actor_id, method, route, target from platform.admin_audit where actor_id = $1', ['cli']);
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0].method, rows[0].route, rows[0].target.revoked.subject, rows[0].target.revoked.reason], ['CLI', 'brigade token revoke', subject, 'left the restaurant']);
    const stored = await owner.query('select revoked_by, reason from platform.token_revocations where subject = $1', [subject]);
    assert.deepEqual(stored.rows, [{ revoked_by: 'cli', reason: 'left the restaurant' }]);
  });

  test('an admin and a customer are revoked the same way; for an admin it says that the tokens it minted are refused too', async () => {
    const leaked = await t.token('admin', { subject: 'leaked-cli' });
    const minted = await t.request({ method: 'POST', url: '/v1/tokens', token: leaked, payload: { role: 'admin', subject: 'minted-by-leaked-cli' } });
    assert.equal(minted.statusCode, 201, minted.body);
    const customer = await t.token('customer', { subject: randomUUID() });
    const customerId = (await t.platform.deps.tokens.verify(customer)).subject;
    const said: string[] = [];
    for (const [role, subject] of [['admin', 'leaked-cli'], ['customer', customerId]] as const) {
      const result = await runMain(['token', 'revoke', '--role', role, '--subject', subject], env);
      assert.equal(result.code, 0, result.stderr);
      said.push(result.stdout);
    }
    assert.match(said[0]!, /tokens leaked-cli minted .*are refused too.*mint again/s, said[0]);
    assert.doesNotMatch(said[1]!, /minted .*refused too/, 'a customer mints nothing');
    assert.equal((await t.request({ url: '/v1/admin/token-revocations', token: leaked })).json().code, 'TOKEN_REVOKED');
    assert.equal((await t.request({ url: '/v1/admin/token-revocations', token: minted.json().token })).json().code, 'TOKEN_REVOKED');
    assert.equal((await t.request({ url: '/v1/customers/me/orders', token: customer })).json().code, 'TOKEN_REVOKED');
  });

  test("revoking a courier takes them off dispatch too, and says so (before: they stayed available and were given orders)", async () => {
    const admin = await t.token('admin', { subject: 'ops' });
    const made = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rui', city: 'Porto' } });
    assert.equal(made.statusCode, 201, made.body);
    const courierId = made.json().id as string;
    const on = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: await t.token('courier', { subject: courierId }), payload: { available: true } });
    assert.equal(on.json().status, 'available', on.body);
    const result = await runMain(['token', 'revoke', '--role', 'courier', '--subject', courierId], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Courier ${courierId} was taken off dispatch: offline`, 'm'), result.stdout);
    assert.deepEqual((await owner.query('select status from delivery.courier_availability where courier_id = $1', [courierId])).rows, [{ status: 'offline' }]);
    const { rows } = await owner.query(`select target from platform.admin_audit where actor_id = 'cli' and target->'revoked'->>'subject' = $1`, [courierId]);
    assert.match(rows[0]?.target.takenOffDispatch ?? '', /taken off dispatch/);
  });

  test('bad usage exits 2 naming the flag and what to do; nothing is written', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['token', 'revoke', '--subject', randomUUID()], /--role must be one of admin, staff, courier, customer/],
      [['token', 'revoke', '--role', 'root', '--subject', randomUUID()], /--role must be one of/],
      [['token', 'revoke', '--role', 'staff'], /token revoke needs --subject ID: the staff member's id/],
      [['token', 'revoke', '--role', 'staff', '--subject', 'not-a-uuid'], /--subject: subject must be a UUID/],
      [['token', 'revoke', '--role', 'staff', '--subject', randomUUID(), '--reason', ''], /--reason must not/],
      [['token', 'revoke', '--role', 'staff', '--subject', randomUUID(), '--reason', 'x'.repeat(501)], /--reason must not have more than 500 characters/],
      [['token', 'revoke', '--role', 'staff', '--subject', randomUUID(), '--ttl', '60'], /--ttl goes with brigade token, not brigade token revoke/],
      [['token', 'revoke', '--role', 'staff', '--subject', randomUUID(), '--restaurant', randomUUID()], /--restaurant goes with brigade token, not brigade token revoke/],
      [['token', '--role', 'staff', '--subject', randomUUID(), '--reason', 'why'], /--reason goes with brigade token revoke/],
      [['token', 'revoked', '--role', 'staff'], /Unknown action "revoked": brigade token --role … mints a token, brigade token revoke … revokes/],
    ];
    for (const [args, message] of cases) {
      const result = await runMain(args, env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.match(result.stderr, /Usage: brigade token/, 'with the usage');
    }
    assert.equal((await owner.query("select 1 from platform.token_revocations where revoked_by = 'cli' and role = 'staff'")).rowCount, 1, 'only the first test’s revocation');
    const help = await runMain(['token', '--help'], {});
    assert.match(help.stdout, /brigade token revoke --role staff\|courier\|admin\|customer --subject ID \[--reason TEXT\]/);
  });
});
