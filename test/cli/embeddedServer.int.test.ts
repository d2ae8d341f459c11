import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { newBrigadeHome, postmasterPid, serveOnEmbedded, superuserSession } from '../support/embeddedHome.ts';
import { eventually, within } from '../support/eventually.ts';

/** The process group of process `pid` (Linux: the fifth field of /proc/<pid>/stat). */
async function processGroupOf(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

test('Ctrl+C in the terminal (SIGINT to the whole process group) reaches brigade alone: a request in flight finishes, then brigade stops PostgreSQL', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-ctrl-c-');
  try {
    const brigade = await serveOnEmbedded(home, ['start'], { ownGroup: true });
    const session = await superuserSession(home, brigade.port);
    try {
      // Hold a request in flight: GET /v1/restaurants waits behind this lock until the test commits.
      await session.query('begin');
      await session.query('lock table platform.restaurants in access exclusive mode');
      const request = fetch(`${brigade.base}/v1/restaurants`);
      await eventually(
        'the request to wait for the lock',
        async () => (await session.query<{ n: number }>(`select count(*)::int as n from pg_locks where relation = 'platform.restaurants'::regclass and not granted`)).rows[0]?.n ?? 0,
        (n) => n > 0,
      );
      // What a terminal does on Ctrl+C: SIGINT to every process of the foreground group.
      process.kill(-(brigade.child.pid ?? 0), 'SIGINT');
      await eventually('brigade to start its shutdown', async () => brigade.output(), (out) => out.includes('Shutting down'));
      // Before, PostgreSQL was in that group: it got the SIGINT too and shut down at once, under brigade.
      const pid = await postmasterPid(home);
      assert.ok(pid !== null, 'PostgreSQL is still up while brigade drains');
      assert.notEqual(await processGroupOf(pid), brigade.child.pid, 'PostgreSQL runs in a process group of its own');
      // The server still serves this session and the request: brigade has not stopped it yet.
      await session.query('commit');
      const answer = await request;
      const body = await answer.text();
      assert.equal(answer.status, 200, body);
      assert.deepEqual(JSON.parse(body), { restaurants: [], next: null });
      await session.end();
      assert.equal(await brigade.exited, 0, brigade.output());
      assert.match(brigade.output(), /Shutting down \(SIGINT\)[\s\S]*Stopped cleanly/);
      // Brigade stopped it last, once drained: a fast shutdown, as its log says.
      assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, 'brigade stopped PostgreSQL');
      assert.match(await fs.readFile(path.join(home, 'pg.log'), 'utf8'), /received fast shutdown request/);
    } finally {
      await session.end().catch(() => undefined);
      if (brigade.child.exitCode === null) brigade.child.kill('SIGKILL');
    }
  } finally {
    await cleanUp();
  }
});

test('a brigade start killed outright (SIGKILL) leaves PostgreSQL running; the next start takes it over, says so, and stops it', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-killed-');
  try {
    const first = await serveOnEmbedded(home, ['start']);
    const pid = await postmasterPid(home);
    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(await postmasterPid(home), pid, 'nothing stopped PostgreSQL: it holds the data directory');

    const second = await serveOnEmbedded(home, ['start']);
    // Before, the next start joined it as someone else's and left it running when it stopped: for good.
    assert.match(second.output(), /took over the embedded PostgreSQL left running on port \d+ .*no brigade process used it/);
    assert.equal(second.port, first.port);
    assert.equal(await second.stop('SIGINT'), 0, second.output());
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, 'the start that took it over stopped it');
  } finally {
    await cleanUp();
  }
});

test('one-shot commands say on stderr what they do with the embedded PostgreSQL (took over, joined, started, stopped), never on stdout, which is their answer', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-quiet-');
  try {
    const first = await serveOnEmbedded(home, ['start']);
    first.child.kill('SIGKILL');
    await first.exited;

    // Before, tenants list (as token, dlq, sagas and projections) took the server over and stopped it without a word.
    const listed = await runCli(['tenants', 'list'], { BRIGADE_HOME: home });
    const printed = `exit ${listed.code}\n--- stdout\n${listed.stdout}--- stderr\n${listed.stderr}`;
    assert.equal(listed.code, 0, printed);
    assert.match(listed.stderr, new RegExp(`took over the embedded PostgreSQL left running on port ${first.port} .*no brigade process used it`), printed);
    assert.match(listed.stderr, new RegExp(`stopped the embedded PostgreSQL on port ${first.port} \\(no other brigade process used it\\)`), printed);
    assert.deepEqual(listed.stdout.split('\n').slice(0, 1), [`${'id'.padEnd(36)}  ${'city'.padEnd(16)}  ${'name'.padEnd(28)}  placement`], printed);
    assert.equal(await postmasterPid(home), null, 'the command that took it over stopped it');

    // Before, migrate status printed "joined …" above its table and "left …" below it, on stdout.
    const owner = await serveOnEmbedded(home, ['start']);
    try {
      const status = await runCli(['migrate', 'status'], { BRIGADE_HOME: home });
      const said = `exit ${status.code}\n--- stdout\n${status.stdout}--- stderr\n${status.stderr}`;
      assert.equal(status.code, 0, said);
      assert.doesNotMatch(status.stdout, /embedded PostgreSQL/, said);
      assert.match(status.stderr, new RegExp(`^joined the embedded PostgreSQL already running on port ${owner.port} .*used by brigade \\(pid ${owner.child.pid}\\)`, 'm'), said);
      assert.match(status.stderr, new RegExp(`^left the embedded PostgreSQL on port ${owner.port} running for brigade \\(pid ${owner.child.pid}\\)`, 'm'), said);
    } finally {
      assert.equal(await owner.stop('SIGINT'), 0, owner.output());
    }
  } finally {
    await cleanUp();
  }
});

test('brigade start stopping while a brigade serve uses its PostgreSQL leaves it running for the serve; the last one to stop stops it', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-shared-');
  const running: Array<{ child: { exitCode: number | null; kill(signal: NodeJS.Signals): boolean } }> = [];
  try {
    const owner = await serveOnEmbedded(home, ['start']);
    running.push(owner);
    const joiner = await serveOnEmbedded(home, ['serve']);
    running.push(joiner);
    assert.match(joiner.output(), new RegExp(`joined the embedded PostgreSQL already running on port ${owner.port} .*used by brigade \\(pid ${owner.child.pid}\\)`));

    assert.equal(await owner.stop('SIGINT'), 0, owner.output());
    // Before, the start stopped PostgreSQL under the serve, whose every request then failed.
    assert.match(owner.output(), new RegExp(`left the embedded PostgreSQL on port ${owner.port} running for brigade \\(pid ${joiner.child.pid}\\): the last brigade process using it stops it`));
    const ready = await fetch(`${joiner.base}/health/ready`);
    assert.equal(ready.status, 200, await ready.text());

    assert.equal(await joiner.stop('SIGINT'), 0, joiner.output());
    assert.match(joiner.output(), new RegExp(`stopped the embedded PostgreSQL on port ${owner.port} \\(no other brigade process used it\\)`));
    assert.equal(existsSync(path.join(home, 'pg', 'postmaster.pid')), false, 'the last one stopped it');
  } finally {
    for (const brigade of running) if (brigade.child.exitCode === null) brigade.child.kill('SIGKILL');
    await cleanUp();
  }
});

test('PostgreSQL stopped under a running brigade (not by it): brigade says so and what to do, and exits 1', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-lost-');
  const brigade = await serveOnEmbedded(home, ['start']);
  try {
    const pid = await postmasterPid(home);
    assert.ok(pid !== null);
    process.kill(pid, 'SIGINT');
    // Before, brigade ran on without its database, answering 500s, until stopped by hand.
    assert.equal(await within(brigade.exited, 120_000, 'brigade start to exit'), 1, brigade.output());
    assert.match(brigade.output(), new RegExp(`the embedded PostgreSQL on port ${brigade.port} stopped under this process, not by brigade .*run the command again to start it; shutting down`));
  } finally {
    if (brigade.child.exitCode === null) brigade.child.kill('SIGKILL');
    await cleanUp();
  }
});
