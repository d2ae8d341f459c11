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
 * What an interrupted run left of the file it was on ({@link MigrationInterruptedError}):
 * - `rolled back`: a transactional file whose statement was cancelled, or that had not started;
 * - `recorded`: a file that had finished, tracking row and all, when the interruption came (the run
 *   stopped before the next file);
 * - `outside a transaction`: a `-- brigade:no-transaction` file cut short, or whose tracking row could
 *   not be written: its `finished` statements of `statements` stay applied, and it is not recorded, so
 *   the next run applies it again from its first statement.
 */
export type InterruptedFile =
  | { readonly id: string; readonly state: 'rolled back' }
  | { readonly id: string; readonly state: 'recorded' }
  | { readonly id: string; readonly state: 'outside a transaction'; readonly finished: number; readonly statements: number };

/**
 * The run was stopped (its `signal` aborted: Ctrl+C, SIGTERM) before it finished, and the lock is
 * released. The message says what stays of the file it was on ({@link InterruptedFile}, also in
 * `details.file`), and whether anything needs mending before the next run: only a no-transaction file
 * cut short does (its finished statements run again). `options.command` is what the user ran, which
 * the message tells them to run again (`brigade start` migrates as well); default `brigade migrate`.
 */
export class MigrationInterruptedError extends BrigadeError {
  constructor(reason: unknown, doing: string, file: InterruptedFile | undefined, options: { cause?: unknown; command?: string | undefined } = {}) {
    const command = options.command ?? 'brigade migrate';
    let what: string;
    let next = `Nothing to fix: run ${command} again.`;
    if (file === undefined) {
      what = doing === 'connecting' ? 'nothing was applied' : 'no file was being applied';
    } else if (file.state === 'rolled back') {
      what = `${file.id} was rolled back (nothing of it is applied)`;
    } else if (file.state === 'recorded') {
      what = `${file.id} had finished and is recorded as applied (the run stopped before the next file)`;
    } else if (file.finished === 0) {
      what = `${file.id} runs outside a transaction (-- brigade:no-transaction): none of its ${file.statements} statement${file.statements === 1 ? '' : 's'} had finished, and it is not recorded`;
      next = `Drop any INVALID index a cancelled CREATE INDEX CONCURRENTLY left, then run ${command} again.`;
    } else {
      const count = file.finished === file.statements ? 'all' : String(file.finished);
      what =
        `${file.id} runs outside a transaction (-- brigade:no-transaction): ${count} of its ${file.statements} statement${file.statements === 1 ? '' : 's'} had finished and stay applied, ` +
        `but it is not recorded, so the next ${command === 'brigade migrate' ? command : `${command} (or brigade migrate)`} runs it again from its first statement`;
      next = `Before that, make sure those statements can run twice (IF NOT EXISTS) and drop any INVALID index a cancelled CREATE INDEX CONCURRENTLY left; then run ${command} again.`;
    }
    // Interrupted while connecting, it held no lock: nothing to say of one.
    const lock = doing === 'connecting' ? '' : ', and the migration lock is released';
    super('MIGRATION_INTERRUPTED', 503, `Migrating was interrupted by ${typeof reason === 'string' ? reason : 'an abort'} while ${doing}: ${what}${lock}. ${next}`, {
      cause: options.cause,
      details: file === undefined ? {} : { file },
    });
  }
}
