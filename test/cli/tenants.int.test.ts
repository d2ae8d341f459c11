import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCli, runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

describe('brigade tenants and brigade token', () => {
  const database = useTestDatabase();

  test('add, list and mint tokens against a migrated database', async () => {
    const { url } = database.db;
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-cli-'));
    try {
      const env = { DATABASE_URL: url, BRIGADE_HOME: home };
      const added = await runCli(['tenants', 'add', 'Casa Nova', '--city', 'Porto'], env);
      assert.equal(added.code, 0, added.stderr);
      const id = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)?.[1];
      assert.ok(id);
      const listed = await runCli(['tenants', 'list'], env);
      assert.match(listed.stdout, new RegExp(`${id}\\s+Porto\\s+Casa Nova\\s+shared`));
      assert.equal((await runCli(['tenants', 'add', 'No City'], env)).code, 2);
      // Found by a review of the CLI: list took --city as it came, where add trims it, and a blank one listed nothing with success.
      const spaced = await runMain(['tenants', 'list', '--city', ' Porto '], env);
      assert.equal(spaced.code, 0, spaced.stderr);
      assert.match(spaced.stdout, new RegExp(`${id}\\s+Porto\\s+Casa Nova\\s+shared`), 'a stray space is trimmed, as add trims it');
      for (const blank of ['', '   ']) {
        const bad = await runMain(['tenants', 'list', '--city', blank], env);
        assert.deepEqual([bad.code, /--city must not be blank, start or end with a space or an invisible character, nor hold a control or bidi-override character/.test(bad.stderr)], [2, true], `${JSON.stringify(blank)}: ${bad.stdout}${bad.stderr}`);
      }
      // Bad input is bad usage (exit 2, naming the flag), not a check constraint's message.
      const lowerCurrency = await runCli(['tenants', 'add', 'Casa Velha', '--city', 'Porto', '--currency', 'eur'], env);
      assert.deepEqual([lowerCurrency.code, /--currency must match pattern .*three capital letters/.test(lowerCurrency.stderr)], [2, true], lowerCurrency.stderr);
      assert.equal((await runCli(['tenants', 'add', 'Casa Velha', '--city', 'P'.repeat(101)], env)).code, 2);
      assert.equal((await runCli(['tenants', 'add', 'N'.repeat(201), '--city', 'Porto'], env)).code, 2);
      // A stray space is trimmed (so "Casa Nova " is the restaurant that exists); blank and control characters are bad usage.
      // In this process (runMain): a process start each costs seconds on a busy machine, and the file has a budget.
      const again = await runMain(['tenants', 'add', 'Casa Nova ', '--city', ' Porto'], env);
      assert.equal(again.code, 1, again.stdout + again.stderr);
      // Found by a review of the CLI (forty-eighth session): the city as typed, and no next step.
      assert.equal(again.stderr, 'brigade tenants: A restaurant named Casa Nova in Porto already exists: brigade tenants list --city Porto (or GET /v1/restaurants?city=Porto) shows its id');
      const otherCase = await runMain(['tenants', 'add', 'Casa Nova', '--city', 'porto'], env);
      assert.deepEqual([otherCase.code, otherCase.stderr], [1, 'brigade tenants: A restaurant named Casa Nova in Porto already exists: brigade tenants list --city Porto (or GET /v1/restaurants?city=Porto) shows its id'], 'the city as the directory spells it');
      // One name whatever its Unicode form (NFC), as cities are: "Café" typed with a combining accent (NFD) was a second restaurant.
      const decomposed = await runMain(['tenants', 'add', 'Café'.normalize('NFD'), '--city', 'São Paulo'.normalize('NFD')], env);
      assert.equal(decomposed.code, 0, decomposed.stderr);
      assert.match(decomposed.stdout, /^created restaurant [0-9a-f-]{36} \(Café, São Paulo, EUR\)$/, 'kept in composed form');
      assert.ok(decomposed.stdout.includes('Café'.normalize('NFC')), 'composed');
      const composed = await runMain(['tenants', 'add', 'Café', '--city', 'são paulo'], env);
      assert.deepEqual([composed.code, composed.stderr], [1, "brigade tenants: A restaurant named Café in São Paulo already exists: brigade tenants list --city 'São Paulo' (or GET /v1/restaurants?city=S%C3%A3o%20Paulo) shows its id"]);
      const rule = 'must not be blank, start or end with a space or an invisible character, nor hold a control or bidi-override character, a zero-width space or U+FFFD (what bytes that are not UTF-8 become)';
      // A bidi override was told "a control character (a newline, a tab)"; U+FFFD (bytes that were not UTF-8,
      // as the shell passed `printf 'Caf\xc3'`) and an inner zero-width space were created.
      for (const name of ['   ', 'Evil\nName', 'Tab\tbed', 'A\u202eB', 'Caf\ufffd', 'Zero\u200bWidth', 'Word\u2060Joiner']) {
        const bad = await runMain(['tenants', 'add', name, '--city', 'Porto'], env);
        assert.deepEqual([bad.code, bad.stderr.split('\n')[0]], [2, `brigade tenants: NAME ${rule}`], `${JSON.stringify(name)}: ${bad.stderr}`);
      }
      assert.equal((await runCli(['tenants', 'move', 'not-a-uuid', '--to-database', url], env)).code, 2);
      // An unknown restaurant: said before the target database is touched (it is not even reachable here).
      const unknown = await runMain(['tenants', 'move', '00000000-0000-4000-8000-000000000000', '--to-database', 'postgres://postgres@127.0.0.1:1/nowhere'], env);
      assert.equal(unknown.code, 1, unknown.stdout + unknown.stderr);
      assert.match(unknown.stderr, /No restaurant 00000000-0000-4000-8000-000000000000 here: brigade tenants list shows their ids; nothing moved/);
      // A service in a database of its own would be left behind by a move: refused before anything is opened.
      const apart = await runCli(['tenants', 'move', id as string, '--to-database', `${url}_elsewhere`], { ...env, ORDERING_DATABASE_URL: `${url}_ordering` });
      assert.notEqual(apart.code, 0);
      assert.match(apart.stderr, /ordering has a database of its own \(ORDERING_DATABASE_URL\): nothing moved/);

      const token = await runCli(['token', '--role', 'staff', '--restaurant', id as string], env);
      assert.equal(token.code, 0, token.stderr);
      const [, payload] = token.stdout.trim().split('.');
      const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
      assert.deepEqual([claims.role, claims.rid, claims.iss], ['staff', id, 'brigade']);
      // The secret was generated once under BRIGADE_HOME and is reused.
      const secret = await fs.readFile(path.join(home, 'secret'), 'utf8');
      await runCli(['token', '--role', 'admin'], env);
      assert.equal(await fs.readFile(path.join(home, 'secret'), 'utf8'), secret);
      assert.equal((await runCli(['token', '--role', 'staff'], env)).code, 2, 'a staff token without --restaurant is bad usage');
      // A restaurant the directory does not know: refused as POST /v1/tokens refuses it (404 NOT_FOUND there), saying how to create one.
      const nowhere = await runMain(['token', '--role', 'staff', '--restaurant', '00000000-0000-4000-8000-000000000000'], env);
      assert.deepEqual([nowhere.code, nowhere.stdout], [1, ''], nowhere.stderr);
      assert.match(nowhere.stderr, /^brigade token: restaurant 00000000-0000-4000-8000-000000000000 not found: no token is minted for a restaurant the directory does not know\. Create it first \(brigade tenants add NAME --city CITY/m);
      assert.equal((await runCli(['token', '--role', 'root'], env)).code, 2);
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});
