import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { brigadeBin, repoRoot } from '../support/cli.ts';
import { newBrigadeHome, postmasterPid } from '../support/embeddedHome.ts';
import { eventually, within } from '../support/eventually.ts';

// A file of its own: with a new embedded PostgreSQL and a rush, it needs a budget of its own.
test('Ctrl+C during brigade demo on the embedded database: the rush stops, the platform shuts down in order, PostgreSQL is stopped, exit 130 (before: a driver stack trace and exit 1)', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-demo-int-');
  const child = spawn(process.execPath, [brigadeBin, 'demo', '--orders', '400', '--rate', '4'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BRIGADE_HOME: home, PORT: '0', PROVIDER_PORT: '0', LOG_LEVEL: 'warn' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // The city is set up and the first orders are being placed (a progress line comes only every tenth of the orders).
    await within(eventually('the rush under way', async () => out, (text) => /couriers are available in/.test(text), 120_000), 125_000, 'the rush to start');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    child.kill('SIGINT');
    // On a time-out, what the demo said last tells which shutdown step it was in.
    const code = await within(exited, 60_000, 'brigade demo to exit').catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; its last output:\n${(out + err).split('\n').slice(-40).join('\n')}`, { cause: error });
    });
    assert.equal(code, 130, out + err);
    assert.match(err, /brigade demo: SIGINT: stopping the rush and the platform/);
    assert.match(err, /brigade demo: interrupted by SIGINT before it finished; nothing to fix: run it again/);
    assert.doesNotMatch(err, /Unhandled 'error' event|Warning:|\n\s+at /, 'no stack trace, no warning of a worker outliving its pool');
    assert.match(err, /stopped the embedded PostgreSQL on port \d+/);
    // The orders in flight end with the platform under them: no "order N failed: fetch failed" lines.
    assert.doesNotMatch(out + err, /order \d+ failed/);
    assert.equal(await postmasterPid(home), null, 'PostgreSQL is stopped');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await cleanUp();
  }
});
