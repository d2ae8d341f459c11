import type { Tx } from '../../../platform/db/index.ts';
import type { GlobalPosition } from '../../../platform/events/index.ts';
import { readCheckpoint, type Projection } from '../../../platform/projections/index.ts';
import type { RawViewRow } from './listQueries.ts';
import { viewSql, type ViewQuery } from './readView.ts';

/**
 * `readView` without the shaping: the projection's checkpoint (read first, so every row is at least as
 * new as it says) and the rows as `to_jsonb` gives them, whose instants keep their microseconds for a
 * merge of several databases' pages (`mergeViewRows`). Shape them with `toViewItem`.
 */
export async function readViewRows(tx: Tx, projection: Projection, query: ViewQuery): Promise<{ checkpoint: GlobalPosition; rows: RawViewRow[] }> {
  const checkpoint = await readCheckpoint(tx, projection);
  const { rows } = await tx.query<{ row: RawViewRow }>(viewSql(projection, query), [...query.values]);
  return { checkpoint, rows: rows.map((r) => r.row) };
}
