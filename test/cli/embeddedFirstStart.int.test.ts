import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { newBrigadeHome, serveOnEmbedded, type ServingBrigade } from '../support/embeddedHome.ts';

// Beside embeddedServer.int.test.ts, in a file of its own: each of these starts brigade more than once, and one file's tests run one after another.

test('two brigade starts at once on a new home: one initialises and starts PostgreSQL, the other waits for it and shares it', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-two-starts-');
  const running: ServingBrigade[] = [];
  try {
    const results = await Promise.allSettled([serveOnEmbedded(home, ['start']), serveOnEmbedded(home, ['start'])]);
    for (const result of results) if (result.status === 'fulfilled') running.push(result.value);
    // Before, both ran initdb: the one that lost failed ("could not be initialised … Check that the disk is not full", or "did not start").
    assert.equal(running.length, 2, results.map((r) => (r.status === 'rejected' ? String(r.reason) : '')).join('\n'));
    const [a, b] = running as [ServingBrigade, ServingBrigade];
    const outputs = `${a.output()}\n---\n${b.output()}`;
    assert.equal(a.port, b.port, `one server:\n${outputs}`);
    assert.equal([a, b].filter((s) => s.output().includes('initialising a new embedded PostgreSQL')).length, 1, outputs);
    assert.equal([a, b].filter((s) => /joined the embedded PostgreSQL already running on port \d+/.test(s.output())).length, 1, outputs);
    for (const brigade of running) assert.equal((await fetch(`${brigade.base}/health/ready`)).status, 200, brigade.output());

    assert.equal(await a.stop('SIGINT'), 0, a.output());
    assert.equal(await b.stop('SIGINT'), 0, b.output());
    assert.match(b.output(), /stopped the embedded PostgreSQL on port \d+ \(no other brigade process used it\)/);
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, 'the last one stopped it');
  } finally {
    for (const brigade of running) if (brigade.child.exitCode === null) brigade.child.kill('SIGKILL');
    await cleanUp();
  }
});

test('two brigade migrate at once on a new home: both succeed, the data directory is initialised once, and the last to end stops the server', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-two-migrates-');
  try {
    const runs = await Promise.all([runCli(['migrate'], { BRIGADE_HOME: home }), runCli(['migrate'], { BRIGADE_HOME: home })]);
    const outputs = runs.map((r) => `exit ${r.code}:\n${r.stdout}${r.stderr}`).join('\n---\n');
    // Before, the one that lost the race to initialise exited 1.
    assert.deepEqual(runs.map((r) => r.code), [0, 0], outputs);
    // Said on stderr, as every command says what it does with the embedded server: stdout is the command's answer.
    assert.equal(runs.filter((r) => r.stderr.includes('initialising a new embedded PostgreSQL')).length, 1, outputs);
    // The other joined that server, or (had the first ended before it looked) started it again on the same data directory.
    assert.equal(runs.filter((r) => /joined the embedded PostgreSQL already running|embedded PostgreSQL reused/.test(r.stderr)).length, 1, outputs);
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, `no server left running:\n${outputs}`);
  } finally {
    await cleanUp();
  }
});
