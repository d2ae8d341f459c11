import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { brigadeBin, repoRoot } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { within } from '../support/eventually.ts';

describe('brigade start with a DATABASE_POOL_SIZE its workers would exhaust', () => {
  const database = useTestDatabase();

  test('refuses to start, naming the variable, the minimum and what holds the connections, instead of serving requests that wait for ever', async () => {
    const child = spawn(process.execPath, [brigadeBin, 'start'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', DATABASE_URL: database.db.url, BRIGADE_SECRET: 'x'.repeat(40), PORT: '0', DATABASE_POOL_SIZE: '8' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      assert.equal(await within(exited, 60_000, 'brigade start to refuse the pool size'), 1, out);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    assert.match(out, /brigade start: Invalid configuration:\n {2}DATABASE_POOL_SIZE: expected at least 13: in the main database this process keeps 11 connection\(s\)/);
    assert.match(out, /got "8"\nSet these variables to valid values/);
    assert.doesNotMatch(out, /Brigade is up/);
  });
});
