import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { brigadeBin, repoRoot, runCli, runMain } from '../support/cli.ts';

describe('bad command-line input exits 2 with a usage line', () => {
  test('brigade launch (the binary itself exits 2)', async () => {
    const result = await runCli(['launch']);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /Usage: brigade/);
  });
  // The rest through the same main() in this process: a process start each cost up to 20 s on a busy machine.
  for (const args of [[], ['migrate', '--bogus'], ['migrate', 'sideways'], ['migrate', 'status', '--dry-run'], ['serve', '--service'], ['serve', '--service', 'kitchen'], ['worker', 'nope'], ['start', 'extra'], ['sagas', 'show']]) {
    test(`brigade ${args.join(' ')}`, async () => {
      const result = await runMain(args);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.match(result.stdout + result.stderr, /Usage: brigade/);
    });
  }
});

describe('--help on every command', () => {
  for (const command of ['start', 'migrate', 'serve', 'worker', 'sagas', 'demo', 'dlq']) {
    test(`brigade ${command} --help`, async () => {
      const result = await runMain([command, '--help']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Usage: brigade ${command}`));
    });
  }
  test('brigade --help', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const command of ['start', 'migrate', 'serve', 'worker', 'sagas']) assert.match(result.stdout, new RegExp(`\\n  ${command}`));
  });
});

test('invalid configuration stops start-up with a message naming the variable', async () => {
  const result = await runCli(['migrate', 'status'], { PORT: '99999', REDIS_URL: 'http://cache' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /PORT: expected an integer from 0 to 65535, got "99999"/);
  assert.match(result.stderr, /REDIS_URL: expected a URL starting with redis:\/\/ or rediss:\/\//);
  assert.match(result.stderr, /Set these variables to valid values/);
});

describe('brigade start on the embedded database', () => {
  const homes: string[] = [];
  after(() => Promise.all(homes.map((h) => fs.rm(h, { recursive: true, force: true }))));

  /** Starts `brigade start`, waits until it serves, returns the base URL and a stop function. */
  async function start(home: string) {
    const child = spawn(process.execPath, [brigadeBin, 'start'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, BRIGADE_HOME: home, PORT: '0', LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const base = await new Promise<string>((resolve, reject) => {
      const check = setInterval(() => {
        const match = /API\s+(http:\/\/\S+)\/v1/.exec(out);
        if (match?.[1] !== undefined && out.includes('Press Ctrl+C')) {
          clearInterval(check);
          resolve(match[1]);
        }
      }, 50);
      void exited.then((code) => {
        clearInterval(check);
        reject(new Error(`brigade start exited ${code}:\n${out}`));
      });
    });
    return { base, output: () => out, stop: (signal: NodeJS.Signals) => (child.kill(signal), exited) };
  }

  test('starts, serves, stops cleanly on SIGINT and SIGTERM, and reuses the database', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-start-'));
    await fs.chmod(home, 0o755);
    homes.push(home);

    const first = await start(home);
    const ready = await fetch(`${first.base}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { ok: boolean }).ok, true);
    assert.match(first.output(), /initialising a new embedded PostgreSQL/);
    assert.match(first.output(), /applied platform\/0001_service_schemas_and_roles\.sql/);
    assert.equal(await first.stop('SIGINT'), 0);
    assert.match(first.output(), /Stopped cleanly/);
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, 'PostgreSQL was shut down too');

    const second = await start(home);
    assert.match(second.output(), /embedded PostgreSQL reused/);
    assert.match(second.output(), /nothing to apply: the database is current/);
    assert.equal((await fetch(`${second.base}/health/live`)).status, 200);
    assert.equal(await second.stop('SIGTERM'), 0);
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false);
  });
});

describe('brigade tenants and brigade token', () => {
  test('add, list and mint tokens against a migrated database', async () => {
    const { createTestDatabase } = await import('../support/db.ts');
    const db = await createTestDatabase();
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-cli-'));
    try {
      const env = { DATABASE_URL: db.url, BRIGADE_HOME: home };
      const added = await runCli(['tenants', 'add', 'Casa Nova', '--city', 'Porto'], env);
      assert.equal(added.code, 0, added.stderr);
      const id = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)?.[1];
      assert.ok(id);
      const listed = await runCli(['tenants', 'list'], env);
      assert.match(listed.stdout, new RegExp(`${id}\\s+Porto\\s+Casa Nova\\s+shared`));
      assert.equal((await runCli(['tenants', 'add', 'No City'], env)).code, 2);
      assert.equal((await runCli(['tenants', 'move', 'not-a-uuid', '--to-database', db.url], env)).code, 2);

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
      assert.equal((await runCli(['token', '--role', 'root'], env)).code, 2);
    } finally {
      await fs.rm(home, { recursive: true, force: true });
      await db.drop();
    }
  });
});
