import type { MergedViewQuery, RawViewRow } from './listQueries.ts';

/**
 * The first `query.limit` rows, in the query's order, of the pages that several databases answered to
 * the same query (each in that order, each of at most `limit` rows, so the first `limit` of the whole
 * are among them). Pages come in database order, the shared database first: a row found in two of them
 * (a restaurant's rows between a move's commit in its new database and the delete in the shared one,
 * which stays authoritative until then, decision 0008) is taken from the first.
 */
export function mergeViewRows(pages: readonly (readonly RawViewRow[])[], query: Pick<MergedViewQuery, 'compare' | 'limit'>): RawViewRow[] {
  const seen = new Set<string>();
  const rows: RawViewRow[] = [];
  for (const page of pages) {
    for (const row of page) {
      const key = `${String(row.tenant_id)} ${String(row.order_id)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(row);
    }
  }
  return rows.sort(query.compare).slice(0, Math.trunc(query.limit));
}
