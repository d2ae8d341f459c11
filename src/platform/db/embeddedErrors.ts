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

