import { BrigadeError } from '../errors/index.ts';

/** An applied migration file changed or disappeared; nothing runs until that is mended. */
export class MigrationDriftError extends BrigadeError {
  constructor(readonly drift: ReadonlyArray<{ id: string; problem: 'changed' | 'missing' }>) {
    super(
      'MIGRATION_DRIFT',
      500,
      `Applied migrations no longer match their files:\n${drift.map((d) => `  ${d.id}: ${d.problem === 'changed' ? 'changed since it was applied (checksum differs)' : 'applied, but the file is gone'}`).join('\n')}\n` +
        'Migrations are forward-only: restore the applied file exactly as it was, and put the change in a new, higher-numbered file.',
      { details: { drift } },
    );
  }
}

/** A new file is numbered below one already applied in its set. */
export class MigrationOrderError extends BrigadeError {
  constructor(readonly files: ReadonlyArray<{ id: string; below: string }>) {
    super(
      'MIGRATION_OUT_OF_ORDER',
      500,
      `New migrations are numbered below ones already applied:\n${files.map((f) => `  ${f.id} (already applied: ${f.below})`).join('\n')}\n` +
        'Renumber each of these files above the highest applied number of its set.',
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
