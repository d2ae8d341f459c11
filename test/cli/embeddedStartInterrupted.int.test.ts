import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmbeddedPostgres } from '../../src/platform/db/index.ts';
import { spawnCli, type SpawnedCli } from '../support/cli.ts';
import { newBrigadeHome, postmasterPid } from '../support/embeddedHome.ts';

// Found by a review: the embedded server's signal fallback was installed only once the server had been
// started and joined. A SIGINT or SIGTERM before that (during initdb, pg_ctl start -w or the joining
// session) ended a one-shot command by the signal's default action: PostgreSQL, started by a detached
// pg_ctl, ran on with nobody using it, and pg.lock kept the dead process's pid.

/** Resolves once `ready()` holds, looking every few ms; fails with what `cli` printed if it exits first. */
async function until(cli: SpawnedCli, ready: () => boolean, what: string): Promise<void> {
  for (const started = Date.now(); !ready(); await sleep(2)) {
    if (cli.gone()) assert.fail(`brigade exited before ${what}:\n${cli.output()}`);
    if (Date.now() - started > 120_000) assert.fail(`no ${what} within 120 s:\n${cli.output()}`);
  }
}

/** What a one-shot command stopped in its start window leaves: exit 128 + n, no server, no start lock. */
async function assertLeftNothing(home: string, cli: SpawnedCli, signal: NodeJS.Signals): Promise<void> {
  const result = await cli.exited;
  const printed = `exit ${result.code} (signal ${result.signal}):\n${result.stdout}${result.stderr}`;
  // Before, PostgreSQL ran on: give a stop in progress time to end, then look. (Its postmaster.pid, not
  // its pid: the server is not a child of brigade's, and an ended one nobody reaps still answers kill 0.)
  for (let i = 0; i < 200 && (await postmasterPid(home)) !== null; i++) await sleep(50);
  assert.equal(await postmasterPid(home), null, `an embedded PostgreSQL was left running:\n${printed}`);
  assert.equal(existsSync(path.join(home, 'pg.lock')), false, `pg.lock was left behind:\n${printed}`);
  assert.equal(result.code, signal === 'SIGINT' ? 130 : 143, printed);
  assert.match(result.stderr, new RegExp(`interrupted by ${signal} before it finished; nothing to fix: run it again`), printed);
}

test('Ctrl+C while a one-shot command initialises a new embedded PostgreSQL (brigade migrate): no server is started, pg.lock is released, exit 130', async () => {
  const { home, cleanUp } = await newBrigadeHome('fix-cli-home-initdb-');
  try {
    const cli = spawnCli(['migrate'], { BRIGADE_HOME: home });
    // The line comes before initdb runs (which takes a second or more).
    await until(cli, () => cli.output().includes('initialising a new embedded PostgreSQL'), 'initialising line');
    cli.child.kill('SIGINT');
    await assertLeftNothing(home, cli, 'SIGINT');
    // The data directory itself is whole: initdb ran to its end, and the next start uses it.
    assert.equal(existsSync(path.join(home, 'pg', 'PG_VERSION')), true, cli.output());
    assert.equal(existsSync(path.join(home, 'pg.initialising')), false, cli.output());
  } finally {
    await cleanUp();
  }
});

test('SIGTERM while a one-shot command starts the embedded PostgreSQL (brigade tenants list, pg_ctl start -w): the server is stopped again, pg.lock is released, exit 143', async () => {
  const { home, cleanUp } = await newBrigadeHome('fix-cli-home-start-');
  try {
    // An initialised data directory, not running: the command starts it (no initdb).
    const first = await startEmbeddedPostgres({ dir: path.join(home, 'pg') });
    await first.stop();
    const cli = spawnCli(['tenants', 'list'], { BRIGADE_HOME: home });
    // postmaster.pid appears when the postmaster starts; pg_ctl -w returns only once it says "ready",
    // and the command then opens its session on it: the signal comes inside that window.
    await until(cli, () => existsSync(path.join(home, 'pg', 'postmaster.pid')), 'postmaster.pid');
    cli.child.kill('SIGTERM');
    await assertLeftNothing(home, cli, 'SIGTERM');
  } finally {
    await cleanUp();
  }
});
