import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, spawnCli } from '../support/cli.ts';
import { newBrigadeHome, postmasterPid } from '../support/embeddedHome.ts';

// Found by a review: `brigade tenants list | head -1` died of an unhandled EPIPE (a Node stack trace on
// stderr, exit 1) at its first write after the reader had gone, and the embedded PostgreSQL it had
// started, in a process group of its own, ran on: the command's `finally` never stopped it.

/** Waits (bounded) for the embedded PostgreSQL under `home` to be gone, and says whether it is. */
async function serverGone(home: string): Promise<boolean> {
  // Its postmaster.pid, not its pid: the server is not brigade's child, and a stop takes a moment.
  for (let i = 0; i < 200 && (await postmasterPid(home)) !== null; i++) await sleep(50);
  return (await postmasterPid(home)) === null;
}

test('a reader that goes before the output comes (brigade tenants list | head -1): no stack trace, exit 0, the embedded PostgreSQL is stopped', async () => {
  const { home, cleanUp } = await newBrigadeHome('fix-cli-home-pipe-');
  try {
    const migrated = await runCli(['migrate'], { BRIGADE_HOME: home });
    assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);
    const added = await runCli(['tenants', 'add', 'Trattoria', '--city', 'Pipe City'], { BRIGADE_HOME: home });
    assert.equal(added.code, 0, added.stdout + added.stderr);

    // The reader closes its end before brigade writes its first line (`tenants list` prints nothing
    // before its table, once the server is up): every write to stdout meets EPIPE, as after `head`.
    const listing = spawnCli(['tenants', 'list'], { BRIGADE_HOME: home });
    listing.child.stdout.destroy();
    const listed = await listing.exited;
    const printed = `exit ${listed.code} (signal ${listed.signal}):\n${listed.stderr}`;
    // Its stderr says what it did with the embedded server (started, stopped it), and nothing else: no stack trace.
    assert.deepEqual(
      listed.stderr.split('\n').filter((line) => line !== '' && !/^embedded PostgreSQL reused in |^stopped the embedded PostgreSQL on port /.test(line)),
      [],
      printed,
    );
    assert.equal(listed.code, 0, printed);
    assert.equal(await serverGone(home), true, `the embedded PostgreSQL was left running:\n${printed}`);
    assert.equal(existsSync(path.join(home, 'pg.lock')), false, printed);

    // Both streams gone (a terminal closed, `2>&1 | head`), on a command that prints progress as it
    // starts and stops the server: it runs to its end all the same and stops the server.
    const status = spawnCli(['migrate', 'status'], { BRIGADE_HOME: home });
    status.child.stdout.destroy();
    status.child.stderr.destroy();
    const statused = await status.exited;
    assert.equal(statused.code, 0, `exit ${statused.code} (signal ${statused.signal})`);
    assert.equal(await serverGone(home), true, 'the embedded PostgreSQL was left running after migrate status');

    // And the next command finds no server left behind to take over.
    const again = await runCli(['tenants', 'list'], { BRIGADE_HOME: home });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Trattoria/);
    assert.doesNotMatch(again.stdout + again.stderr, /took over the embedded PostgreSQL left running/);
  } finally {
    await cleanUp();
  }
});
