import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

describe('a HOST that is not an address of this machine is named, with what to set it to', () => {
  const database = useTestDatabase();

  for (const command of ['start', 'serve']) {
    test(`brigade ${command}: HOST_INVALID naming HOST, not taken for a database host`, async () => {
      const result = await runCli([command], { DATABASE_URL: database.db.url, HOST: 'api.internal.invalid', PORT: '0', PROVIDER_PORT: '0' });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /the HTTP API cannot listen on HOST=api\.internal\.invalid: it is not an address of this machine .*Set HOST to one of its addresses, e\.g\. 127\.0\.0\.1/);
      // Before: "getaddrinfo ENOTFOUND api.internal.invalid", then "Check the host name in DATABASE_URL …".
      assert.doesNotMatch(result.stderr, /DATABASE_URL|getaddrinfo/);
    });
  }
});
