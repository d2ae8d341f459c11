import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { brigadeBin, repoRoot } from '../support/cli.ts';

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
    assert.equal(await first.stop('SIGINT'), 0, first.output());
    assert.match(first.output(), /Stopped cleanly/);
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, 'PostgreSQL was shut down too');

    const second = await start(home);
    assert.match(second.output(), /embedded PostgreSQL reused/);
    assert.match(second.output(), /nothing to apply: the database is current/);
    assert.equal((await fetch(`${second.base}/health/live`)).status, 200);
    assert.equal(await second.stop('SIGTERM'), 0, second.output());
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false);
  });
});
