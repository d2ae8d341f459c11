import { BrigadeError } from '../errors/index.ts';

/**
 * What the user of an embedded database (`.brigade/pg`, no `DATABASE_URL`) can do when its applied
 * migrations do not match this build's files: they did not write those files, and the author's advice
 * (restore the file, renumber it) is no way out for them. The database was made by another build
 * (an older checkout, another branch): start afresh, or go back to that build.
 */
function embeddedDatabaseWayOut(dataDir: string): string {
  // As typed in a shell: quoted when the path holds anything but plain path characters.
  const word = (p: string) => (/^[\w./-]+$/.test(p) ? p : `'${p.replaceAll("'", "'\\''")}'`);
  return (
    `This is the embedded database in ${dataDir}, made by another build of brigade (an earlier checkout, another branch) whose migrations differ from this one's. ` +
    `To start afresh, stop every brigade process using it and move ${dataDir} aside (mv ${word(dataDir)} ${word(`${dataDir}.old`)}): its data will not be used, and the next start makes a new one. ` +
    'To keep using its data, check out the build of brigade that made it.'
  );
}

/** Options of the migrator's refusals ({@link MigrationDriftError}, {@link MigrationOrderError}). */
export interface MigrationRefusalOptions {
  /**
   * The data directory of the embedded PostgreSQL the database lives in, when it is that one: the
   * message then gives its user {@link embeddedDatabaseWayOut} instead of a migration author's advice.
   */
  readonly embeddedDataDir?: string | undefined;
}

/** An applied migration file changed or disappeared; nothing runs until that is mended. */
export class MigrationDriftError extends BrigadeError {
  constructor(
    readonly drift: ReadonlyArray<{ id: string; problem: 'changed' | 'missing' }>,
    options: MigrationRefusalOptions = {},
  ) {
    super(
      'MIGRATION_DRIFT',
      500,
      `Applied migrations no longer match their files:\n${drift.map((d) => `  ${d.id}: ${d.problem === 'changed' ? 'changed since it was applied (checksum differs)' : 'applied, but the file is gone'}`).join('\n')}\n` +
        (options.embeddedDataDir === undefined
          ? 'Migrations are forward-only: restore the applied file exactly as it was, and put the change in a new, higher-numbered file.'
          : embeddedDatabaseWayOut(options.embeddedDataDir)),
      { details: { drift } },
    );
  }
}

/** A new file is numbered below one already applied in its set. */
export class MigrationOrderError extends BrigadeError {
  constructor(
    readonly files: ReadonlyArray<{ id: string; below: string }>,
    options: MigrationRefusalOptions = {},
  ) {
    super(
      'MIGRATION_OUT_OF_ORDER',
      500,
      `New migrations are numbered below ones already applied:\n${files.map((f) => `  ${f.id} (already applied: ${f.below})`).join('\n')}\n` +
        (options.embeddedDataDir === undefined ? 'Renumber each of these files above the highest applied number of its set.' : embeddedDatabaseWayOut(options.embeddedDataDir)),
      { details: { files } },
    );
  }
}

/** A migrations folder holds a badly named or duplicate-numbered file, or a statement failed. */
export class MigrationFileError extends BrigadeError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('MIGRATION_FAILED', 500, message, options);
  }
}

/**
 * The run was stopped (its `signal` aborted: Ctrl+C, SIGTERM) before it finished: the statement
 * running was cancelled, so its file's transaction rolled back, and the lock is released.
 */
export class MigrationInterruptedError extends BrigadeError {
  constructor(reason: unknown, doing: string, options: { cause?: unknown } = {}) {
    super(
      'MIGRATION_INTERRUPTED',
      503,
      `Migrating was interrupted by ${typeof reason === 'string' ? reason : 'an abort'} while ${doing}: the file being applied was rolled back ` +
        '(a -- brigade:no-transaction file keeps the statements it had finished) and the migration lock is released. Run brigade migrate again',
      options,
    );
  }
}
