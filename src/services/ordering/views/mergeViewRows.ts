import type { MergedViewQuery, RawViewRow } from './listQueries.ts';

/**
 * The first `query.limit` rows, in the query's order, of the pages that several databases answered to
 * the same query (each in that order, each of at most `limit` rows, so the first `limit` of the whole
 * are among them). Pages come in database order, the shared database first.
 *
 * One order's row can be in two databases when its restaurant moves (decision 0008): between the
 * commit of the copy in its new database and the delete in the shared one, and in the shared one
 * after that if a projector batch wrote it back. Of the two, the row with the higher `last_position`
 * (the global position of the last event of the order's stream that it folds) is kept; on a tie, the
 * first page's. Positions of two databases compare with nothing in general, but the two rows of ONE
 * order do:
 * - The move fences the restaurant's writes from before its copy until after the delete, and copied
 *   events keep their global positions. Until the delete commits, both rows fold a prefix of the same
 *   events with the same positions: the higher position folds more of them, and at a tie they are the
 *   same fold.
 * - After the move the order's new events are appended in the new database, whose position sequence
 *   the move set past every copied position: each is above every event of the order in the shared
 *   database, so the new database's row, once it has applied one, is above any row left in the shared
 *   one. Until then, a shared row may be ahead of the copy (the new database's projector has not caught
 *   up yet), and it is the newer fold.
 * The transaction ids (`last_transaction_id`) are not compared: the copy rewrites them to its own.
 */
export function mergeViewRows(pages: readonly (readonly RawViewRow[])[], query: Pick<MergedViewQuery, 'compare' | 'limit'>): RawViewRow[] {
  const kept = new Map<string, RawViewRow>();
  for (const page of pages) {
    for (const row of page) {
      const key = `${String(row.tenant_id)} ${String(row.order_id)}`;
      const other = kept.get(key);
      if (other === undefined || lastPosition(row) > lastPosition(other)) kept.set(key, row);
    }
  }
  return [...kept.values()].sort(query.compare).slice(0, Math.trunc(query.limit));
}

/** A row's `last_position` (a bigint: compared exactly, never as a float). */
function lastPosition(row: RawViewRow): bigint {
  return BigInt(String(row.last_position));
}
