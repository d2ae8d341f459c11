import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnCli, type SpawnedCli } from '../support/cli.ts';
import { newBrigadeHome, postmasterPid, serveOnEmbedded } from '../support/embeddedHome.ts';

// Found by a review: SIGHUP (the terminal closed, an SSH session dropped) was not one of brigade's
// shutdown signals. Node's default action ended `brigade start` at once, with no drain, and the embedded
// PostgreSQL, in a session of its own that the hang-up does not reach, ran on for nobody.

/** Waits (bounded) for the embedded PostgreSQL under `home` to be gone, and says whether it is. */
async function serverGone(home: string): Promise<boolean> {
  for (let i = 0; i < 200 && (await postmasterPid(home)) !== null; i++) await sleep(50);
  return (await postmasterPid(home)) === null;
}

/** Resolves once `cli` has printed `text`; fails with what it printed if it exits first. */
async function untilPrinted(cli: SpawnedCli, text: string): Promise<void> {
  for (const started = Date.now(); !cli.output().includes(text); await sleep(2)) {
    if (cli.gone()) assert.fail(`brigade exited before printing ${JSON.stringify(text)}:\n${cli.output()}`);
    if (Date.now() - started > 120_000) assert.fail(`no ${JSON.stringify(text)} within 120 s:\n${cli.output()}`);
  }
}

test('SIGHUP is a shutdown signal: a one-shot command hung up while it starts its server (brigade migrate) leaves nothing and exits 129; brigade start drains and stops its server', async () => {
  const { home, cleanUp } = await newBrigadeHome('fix-cli-home-hup-');
  try {
    // The start's own hold of the signal, handed over to the server's fallback: as for SIGINT and SIGTERM
    // (embeddedStartInterrupted.int.test.ts), nothing more is started and the lock is released.
    const migrate = spawnCli(['migrate'], { BRIGADE_HOME: home });
    await untilPrinted(migrate, 'initialising a new embedded PostgreSQL');
    migrate.child.kill('SIGHUP');
    const interrupted = await migrate.exited;
    const said = `exit ${interrupted.code} (signal ${interrupted.signal}):\n${interrupted.stdout}${interrupted.stderr}`;
    assert.equal(interrupted.code, 129, said);
    assert.match(interrupted.stderr, /interrupted by SIGHUP before it finished; nothing to fix: run it again/, said);
    assert.equal(await serverGone(home), true, `an embedded PostgreSQL was left running:\n${said}`);
    assert.equal(existsSync(path.join(home, 'pg.lock')), false, `pg.lock was left behind:\n${said}`);

    // A serving command drains as on Ctrl+C, then stops the server it started.
    const brigade = await serveOnEmbedded(home, ['start']);
    try {
      assert.equal(await brigade.stop('SIGHUP'), 0, brigade.output());
      assert.match(brigade.output(), /Shutting down \(SIGHUP\)[\s\S]*stopped the embedded PostgreSQL[\s\S]*Stopped cleanly/);
      assert.equal(await serverGone(home), true, `the embedded PostgreSQL was left running:\n${brigade.output()}`);
    } finally {
      if (brigade.child.exitCode === null) brigade.child.kill('SIGKILL');
    }
  } finally {
    await cleanUp();
  }
});
