import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MigrationFileError } from './errors.ts';

/** A named, ordered folder of migration files: the platform's, or one service's. */
export interface MigrationSet {
  /** Set name, e.g. `platform` or `menu`. Files are tracked as `<set>/<file>`. */
  readonly name: string;
  /** Folder holding `NNNN_name.sql` files. */
  readonly dir: string;
}

/** One migration file, read and checksummed. */
export interface MigrationFile {
  readonly set: string;
  /** File name, e.g. `0001_roles.sql`. */
  readonly name: string;
  /** `<set>/<name>`, how errors and status name it. */
  readonly id: string;
  readonly number: number;
  /** The file's text, without a leading UTF-8 byte order mark (PostgreSQL would take it for SQL). */
  readonly sql: string;
  /** SHA-256 of the file's bytes as they are on disk (a byte order mark included), hex. */
  readonly checksum: string;
  /** First line is `-- brigade:no-transaction`: run statement by statement, outside a transaction. */
  readonly noTransaction: boolean;
}

const FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;
export const NO_TRANSACTION_MARKER = '-- brigade:no-transaction';

/**
 * Reads every set's folder in order. Files must be named `NNNN_name.sql` (lower case); anything else
 * ending in `.sql` in any case (`.SQL` too), or two files with one number, is an error rather than
 * something silently skipped. A leading UTF-8 byte order mark is left out of the SQL, not of the checksum.
 */
export async function discoverMigrations(sets: readonly MigrationSet[]): Promise<MigrationFile[]> {
  const all: MigrationFile[] = [];
  for (const set of sets) {
    let entries: string[];
    try {
      entries = await fs.readdir(set.dir);
    } catch (cause) {
      throw new MigrationFileError(`Cannot read the migrations folder of ${set.name} (${set.dir})`, { cause });
    }
    const files: MigrationFile[] = [];
    for (const name of entries.filter((e) => e.toLowerCase().endsWith('.sql')).sort()) {
      const match = FILE.exec(name);
      if (match === null) {
        throw new MigrationFileError(`${set.name}/${name}: migration files are named NNNN_name.sql (four digits, a lower-case name, .sql in lower case); rename it`);
      }
      const bytes = await fs.readFile(path.join(set.dir, name));
      const text = bytes.toString('utf8');
      const sql = text.startsWith('\uFEFF') ? text.slice(1) : text;
      const number = Number(match[1]);
      const clash = files.find((f) => f.number === number);
      if (clash !== undefined) {
        throw new MigrationFileError(`${set.name}/${name} and ${clash.id} share the number ${match[1]}; give one of them the next free number`);
      }
      files.push({
        set: set.name,
        name,
        id: `${set.name}/${name}`,
        number,
        sql,
        checksum: createHash('sha256').update(bytes).digest('hex'),
        noTransaction: sql.split('\n', 1)[0]?.trim() === NO_TRANSACTION_MARKER,
      });
    }
    all.push(...files);
  }
  return all;
}
