import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/platform/db/index.ts';
import { SERVER_LOG_KEEP_BYTES } from '../../src/platform/db/serverLog.ts';
import { eventually } from '../support/eventually.ts';

const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-embedded-'));
// PostgreSQL runs as the `postgres` OS user when the tests run as root: let it into the folder.
await fs.chmod(home, 0o755);
const dir = path.join(home, 'pg');
after(() => fs.rm(home, { recursive: true, force: true }));

const passwordFile = `${dir}.password`;
const pidFile = path.join(dir, 'postmaster.pid');

/** The shared data directory, initialised and stopped (each test below leaves it so). */
async function stoppedDataDir(): Promise<void> {
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await (await startEmbeddedPostgres({ dir })).stop();
}

/** Stops a server a failed test left running on `dir` (fast shutdown) and waits for it to end. */
async function stopLeftOver(): Promise<void> {
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!(pid > 0)) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 600 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
}

/** `text` for a regular expression, as is. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function sql<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

test('the embedded PostgreSQL starts, stops cleanly and is reused with its data by the next start', async () => {
  const first = await startEmbeddedPostgres({ dir });
  try {
    assert.equal(first.reused, false);
    assert.equal(first.owned, true);
    assert.match(first.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    await sql(first.url, 'create table kept (note text); insert into kept values ($$survives a restart$$)');

    // A second process on the same data directory joins the running server instead of failing.
    const joined = await startEmbeddedPostgres({ dir });
    assert.equal(joined.owned, false);
    assert.equal(joined.port, first.port);
    await joined.stop(); // not its server: a no-op
    assert.deepEqual(await sql(first.url, 'select count(*)::int as n from kept'), [{ n: 1 }]);
  } finally {
    await first.stop();
  }
  assert.equal(existsSync(path.join(dir, 'postmaster.pid')), false, 'a clean shutdown removes postmaster.pid');

  const second = await startEmbeddedPostgres({ dir });
  try {
    assert.equal(second.reused, true);
    assert.deepEqual(await sql(second.url, 'select note from kept'), [{ note: 'survives a restart' }]);
  } finally {
    await second.stop();
  }
});

test('the embedded PostgreSQL is shared: the process that started it, stopping first, leaves it running for one that joined; the last to stop stops it', async () => {
  const lines: string[] = [];
  const owner = await startEmbeddedPostgres({ dir, onProgress: (line) => lines.push(`owner: ${line}`) });
  const joined = await startEmbeddedPostgres({ dir, onProgress: (line) => lines.push(`joined: ${line}`) });
  try {
    assert.equal(owner.owned, true);
    assert.equal(joined.owned, false);
    await owner.stop();
    // Before, the owner stopped the server whatever else used it.
    assert.ok(existsSync(path.join(dir, 'postmaster.pid')), `still running for the one that joined:\n${lines.join('\n')}`);
    assert.match(lines.join('\n'), /owner: left the embedded PostgreSQL on port \d+ running for brigade \(pid \d+\)/);
    assert.deepEqual(await sql(joined.url, 'select note from kept'), [{ note: 'survives a restart' }]);
  } finally {
    await joined.stop();
    await owner.stop();
  }
  assert.equal(existsSync(path.join(dir, 'postmaster.pid')), false, 'the last to stop stopped it');
  assert.match(lines.join('\n'), /joined: stopped the embedded PostgreSQL on port \d+ \(no other brigade process used it\)/);
});

test('joining a running server with the wrong password fails at once, saying what to do (not after waiting for it to settle)', async () => {
  const running = await startEmbeddedPostgres({ dir });
  const passwordFile = `${dir}.password`;
  const password = await fs.readFile(passwordFile, 'utf8');
  try {
    await fs.writeFile(passwordFile, 'not-the-password\n');
    await assert.rejects(startEmbeddedPostgres({ dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNAVAILABLE');
      assert.match(error.message, /Could not join the embedded PostgreSQL running on port \d+ .*password.*restore the file; or set DATABASE_URL/);
      return true;
    });
  } finally {
    await fs.writeFile(passwordFile, password);
    await running.stop();
  }
});

test('a data directory whose password file is gone fails at once, saying to restore it or move the directory aside; no server is left running, no password made up', async () => {
  await stoppedDataDir();
  await fs.rename(passwordFile, `${passwordFile}.kept`);
  try {
    await assert.rejects(startEmbeddedPostgres({ dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'EMBEDDED_PASSWORD_MISSING', error.message);
      assert.match(error.message, new RegExp(`^${literal(passwordFile)} is missing: .*Restore the file, or move ${literal(dir)} aside to start afresh \\(its data will then not be used\\)`));
      return true;
    });
    // Before, it made up a password, started the server, was refused ("Check the user and password in
    // DATABASE_URL", which is not set), left the server running and kept the wrong password file.
    assert.equal(existsSync(passwordFile), false, 'no new, wrong password file');
    assert.equal(existsSync(pidFile), false, 'no server left running');
  } finally {
    await stopLeftOver();
    await fs.rm(passwordFile, { force: true });
    await fs.rename(`${passwordFile}.kept`, passwordFile);
  }
});

test('a password file the data directory was not created with: the server this process started is stopped again, and the error says what to do', async () => {
  await stoppedDataDir();
  const password = await fs.readFile(passwordFile, 'utf8');
  await fs.writeFile(passwordFile, 'not-the-password\n');
  try {
    await assert.rejects(startEmbeddedPostgres({ dir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'EMBEDDED_PASSWORD_REJECTED', error.message);
      assert.match(error.message, new RegExp(`refused the password in ${literal(passwordFile)}.*Restore the original file, or move ${literal(dir)} aside to start afresh`));
      return true;
    });
    // Before, the server it had started ran on with nobody using it.
    assert.equal(existsSync(pidFile), false, 'the server it started is stopped');
  } finally {
    await stopLeftOver();
    await fs.writeFile(passwordFile, password);
  }
});

test('a data directory of another PostgreSQL major version fails before starting, saying so and what to do', async () => {
  await stoppedDataDir();
  const versionFile = path.join(dir, 'PG_VERSION');
  const version = await fs.readFile(versionFile, 'utf8');
  const bundled = version.trim();
  const older = String(Number(bundled) - 1);
  await fs.writeFile(versionFile, `${older}\n`);
  try {
    await assert.rejects(startEmbeddedPostgres({ dir }), (error: Error & { code?: string }) => {
      // Before: UNAVAILABLE, "did not start (pg_ctl: could not start server …) … check that no other server uses that directory".
      assert.equal(error.code, 'EMBEDDED_VERSION_MISMATCH', error.message);
      assert.match(error.message, new RegExp(`${literal(dir)} is of PostgreSQL ${older}, and the embedded PostgreSQL is ${bundled}, .*pg_dump .*move ${literal(dir)} aside to start afresh`));
      return true;
    });
    assert.equal(existsSync(pidFile), false);
  } finally {
    await stopLeftOver();
    await fs.writeFile(versionFile, version);
  }
});

test('a postmaster.pid left by a server killed outright, its pid now another (not PostgreSQL) process: removed, and the server starts without waiting', async () => {
  await stoppedDataDir();
  // The file as the server wrote it (its shared memory is gone since it stopped), then its pid reused.
  const server = await startEmbeddedPostgres({ dir });
  const written = await fs.readFile(pidFile, 'utf8');
  await server.stop();
  const other = spawn('sleep', ['600'], { stdio: 'ignore' });
  try {
    const [, ...rest] = written.split('\n');
    await fs.writeFile(pidFile, [String(other.pid), ...rest].join('\n'));
    const lines: string[] = [];
    // Before, it tried to join a server "ready" on a port nothing listened on, for 60 s, then failed ("neither became ready nor stopped").
    const started = await startEmbeddedPostgres({ dir, onProgress: (line) => lines.push(line) });
    try {
      assert.equal(started.owned, true);
      assert.match(lines.join('\n'), new RegExp(`removed ${literal(pidFile)}: its process ${other.pid} is no longer PostgreSQL \\(now sleep 600\\)`));
      assert.deepEqual(await sql(started.url, 'select note from kept'), [{ note: 'survives a restart' }]);
    } finally {
      await started.stop();
    }
    assert.equal(other.exitCode, null, 'the process that took the pid over is left alone');
  } finally {
    other.kill();
    await stopLeftOver();
  }
});

test('a start lock left by a process killed while it started the server is taken over, as is its half-initialised directory', async () => {
  const fresh = path.join(await fs.mkdtemp(path.join(home, 'stale-lock-')), 'pg');
  await fs.chmod(path.dirname(fresh), 0o755);
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => gone.on('exit', resolve));
  await fs.writeFile(`${fresh}.lock`, `${gone.pid}\n`);
  await fs.mkdir(`${fresh}.initialising`);
  await fs.writeFile(path.join(`${fresh}.initialising`, 'PG_VERSION'), 'half\n');
  const started = await startEmbeddedPostgres({ dir: fresh });
  try {
    assert.equal(started.reused, false);
    assert.deepEqual(await sql(started.url, 'select 1 as one'), [{ one: 1 }]);
    assert.equal(existsSync(`${fresh}.lock`), false, 'the lock is released once the server is up');
    assert.equal(existsSync(`${fresh}.initialising`), false);
  } finally {
    await started.stop();
  }
});

test('a start waiting for another process that initialises the server says once, after a moment, whom it waits for and in which directory', async () => {
  const fresh = path.join(await fs.mkdtemp(path.join(home, 'waiting-')), 'pg');
  await fs.chmod(path.dirname(fresh), 0o755);
  // Another (live) process holds the start lock of a directory not yet initialised: it is running initdb, as far as this start can tell.
  const holder = spawn('sleep', ['600'], { stdio: 'ignore' });
  await fs.writeFile(`${fresh}.lock`, `${holder.pid}\n`);
  const lines: string[] = [];
  const starting = startEmbeddedPostgres({ dir: fresh, onProgress: (line) => lines.push(line) });
  // Before, it waited up to 60 s without a word: a second brigade start looked hung.
  const waiting = `waiting for brigade (pid ${holder.pid}), which is initialising the embedded PostgreSQL in ${fresh} (up to 60 s) …`;
  // Bounded below the start's own 60 s: a start that never says it fails here, not with its own error.
  const said = await eventually('the waiting line', async () => lines, (printed) => printed.includes(waiting), 50_000).then(
    () => null,
    (error: unknown) => error,
  );
  // The holder goes (as if killed): its lock is stale, and the waiting start takes it over and starts the server itself.
  holder.kill();
  const started = await starting;
  try {
    if (said !== null) throw said;
    assert.equal(lines.filter((line) => line.startsWith('waiting for')).length, 1, lines.join('\n'));
    assert.equal(started.owned, true);
  } finally {
    await started.stop();
  }
});

test("a start keeps the server's earlier log (why the last server died): appended to after a line naming the start; a log over SERVER_LOG_KEEP_BYTES is moved to pg.log.1 first", async () => {
  await stoppedDataDir();
  const log = `${dir}.log`;
  const marker = 'PANIC:  could not write to file "pg_wal/xlogtemp.1": No space left on device (the last server)';
  await fs.appendFile(log, `${marker}\n`);
  await (await startEmbeddedPostgres({ dir })).stop();
  const kept = await fs.readFile(log, 'utf8');
  // Before, every start emptied the log.
  assert.ok(kept.includes(marker), `the earlier lines are kept:\n${kept}`);
  assert.match(kept.slice(kept.indexOf(marker)), new RegExp(`\\n--- \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z brigade \\(pid ${process.pid}\\) starts the server ---\\n`));
  assert.equal((await fs.stat(log)).mode & 0o077, 0, 'the log stays private');

  // Bounded: a log grown past the bound is moved aside (one generation kept), and the new one starts afresh.
  await fs.appendFile(log, `${'x'.repeat(1023)}\n`.repeat(SERVER_LOG_KEEP_BYTES / 1024));
  await (await startEmbeddedPostgres({ dir })).stop();
  const previous = await fs.readFile(`${log}.1`, 'utf8');
  assert.ok(previous.includes(marker), 'the moved log holds the earlier lines');
  const fresh = await fs.readFile(log, 'utf8');
  assert.ok(!fresh.includes(marker) && fresh.length < 100_000, `a new log: ${fresh.length} characters`);
  assert.match(fresh, /^--- .* brigade \(pid \d+\) starts the server ---\n/);
});
