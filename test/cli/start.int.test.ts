import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { brigadeBin, repoRoot } from '../support/cli.ts';
import { serveOnEmbedded } from '../support/embeddedHome.ts';

describe('brigade start on the embedded database', () => {
  const homes: string[] = [];
  after(() => Promise.all(homes.map((h) => fs.rm(h, { recursive: true, force: true }))));

  const start = (home: string) => serveOnEmbedded(home, ['start']);

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

  test('a one-shot command stopped by a signal (brigade migrate, SIGTERM) stops the embedded PostgreSQL it started, rather than leaving it orphaned', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-migrate-'));
    await fs.chmod(home, 0o755);
    homes.push(home);
    const pidFile = path.join(home, 'pg', 'postmaster.pid');
    const child = spawn(process.execPath, [brigadeBin, 'migrate'], { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, BRIGADE_HOME: home, LOG_LEVEL: 'warn' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1))));
    try {
      for (let i = 0; !/listening on 127\.0\.0\.1/.test(out); i++) {
        if (i > 1200) throw new Error(`the embedded PostgreSQL never started:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 143, out);
      // Before, node exited and PostgreSQL ran on, its parent gone, and the next start joined it for good.
      for (let i = 0; existsSync(pidFile); i++) {
        if (i > 200) assert.fail(`PostgreSQL was left running after brigade migrate stopped:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      if (existsSync(pidFile)) {
        const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          // already gone
        }
      }
    }
  });
});

