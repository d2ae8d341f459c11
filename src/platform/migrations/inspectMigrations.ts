import type pg from 'pg';
import type { MigrationFile } from './discoverMigrations.ts';

/**
 * A file's standing against the tracking table. `ahead` is a tracking row numbered above every file
 * of its set here: applied by a newer release (a rolling deploy runs old and new side by side), so
 * neither drift nor a reason to refuse; `missing` is one at or below the highest file (a file deleted).
 */
export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing' | 'out-of-order' | 'ahead';

/**
 * The warning for an `ahead` row, which `brigade migrate` and `verify` print on stderr: the row cannot
 * tell a newer release's file from this release's newest file deleted, so a person checks which.
 */
export function aheadWarning(id: string): string {
  return `warning: ${id} was applied by a newer release, or its file was deleted: it is applied and this release has no file for it; check which before deploying (left as it is)`;
}

/** One line of `brigade migrate status`. */
export interface MigrationStatusRow {
  readonly id: string;
  readonly state: MigrationState;
  readonly checksum: string;
  readonly appliedAt: Date | null;
  readonly durationMs: number | null;
  readonly appliedBy: string | null;
}

/** Where the runner records what it applied. The runner owns this table; nothing else writes it. */
export const TRACKING_TABLE = 'brigade_meta.schema_migrations';

interface AppliedRow {
  set_name: string;
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
  applied_by: string;
}

/**
 * Compares the files with the tracking table: applied, pending, changed (checksum differs),
 * missing (applied, file gone, numbered at or below the set's highest file), ahead (applied, numbered
 * above every file of its set: a newer release's) or out-of-order (pending, numbered below an applied
 * file of its set). Works on a database that has never been migrated (everything pending).
 */
export async function inspectMigrations(db: Pick<pg.ClientBase, 'query'>, files: readonly MigrationFile[]): Promise<MigrationStatusRow[]> {
  const exists = await db.query<{ t: string | null }>(`select to_regclass($1) as t`, [TRACKING_TABLE]);
  const applied =
    exists.rows[0]?.t == null
      ? []
      : (await db.query<AppliedRow>(`select set_name, name, checksum, applied_at, duration_ms, applied_by from ${TRACKING_TABLE} order by set_name, name`)).rows;
  // Only the sets given belong to this database's plan; rows of other sets (another service's
  // database, a tool's own set) are not this run's business and are neither drift nor pending.
  const sets = new Set(files.map((f) => f.set));
  const byId = new Map(applied.filter((r) => sets.has(r.set_name)).map((r) => [`${r.set_name}/${r.name}`, r]));
  const highest = new Map<string, { number: number; id: string }>();
  for (const r of applied) {
    if (!sets.has(r.set_name)) continue;
    const number = Number(r.name.slice(0, 4));
    const current = highest.get(r.set_name);
    if (current === undefined || number > current.number) highest.set(r.set_name, { number, id: `${r.set_name}/${r.name}` });
  }
  const rows: MigrationStatusRow[] = files.map((f) => {
    const row = byId.get(f.id);
    byId.delete(f.id);
    if (row === undefined) {
      const top = highest.get(f.set);
      const state: MigrationState = top !== undefined && f.number < top.number ? 'out-of-order' : 'pending';
      return { id: f.id, state, checksum: f.checksum, appliedAt: null, durationMs: null, appliedBy: null };
    }
    return {
      id: f.id,
      state: row.checksum === f.checksum ? 'applied' : 'changed',
      checksum: row.checksum,
      appliedAt: row.applied_at,
      durationMs: row.duration_ms,
      appliedBy: row.applied_by,
    };
  });
  const highestFile = new Map<string, number>();
  for (const f of files) highestFile.set(f.set, Math.max(f.number, highestFile.get(f.set) ?? 0));
  for (const [id, row] of byId) {
    const state: MigrationState = Number(row.name.slice(0, 4)) > (highestFile.get(row.set_name) ?? 0) ? 'ahead' : 'missing';
    rows.push({ id, state, checksum: row.checksum, appliedAt: row.applied_at, durationMs: row.duration_ms, appliedBy: row.applied_by });
  }
  return rows;
}

/** The highest applied file of a set, for the out-of-order message. */
export function highestApplied(rows: readonly MigrationStatusRow[], set: string): string {
  const applied = rows.filter((r) => r.id.startsWith(`${set}/`) && r.appliedAt !== null).map((r) => r.id);
  return applied.sort().at(-1) ?? '';
}
