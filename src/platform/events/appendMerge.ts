import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Statement, StatementMerge } from '../db/index.ts';

/**
 * How a store's appends merge into ONE statement when the group committer commits several units of
 * work together (docs/decisions/0063); `batchHook` is the store's `appendSql.batchSql`, if any.
 * The merged statement does per event row what `append_events` does per call, for streams of several
 * tenants: it reads each stream's head through the primary key (a lateral join), refuses a stale
 * expected version or a newer transaction's head (`refuse_append`: `BRVER`, `BRORD`), and inserts the
 * events, with the hook's rows (the outbox) in the same statement. Row-Level Security admits it through
 * the batch policies of `mergedAppendSchemaSql`.
 *
 * The values it merges are those of the store's append statement: `$1` tenant, `$2` stream, `$3`
 * expected version, `$4`…`$8` one array element per event.
 */
export function appendMerge(schema: string, batchHook: string | undefined): StatementMerge {
  const text = mergedAppendText(pg.escapeIdentifier(schema), batchHook);
  const name = `brigade_merged_append_${schema}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
  return Object.freeze({
    id: name,
    statement: (units: readonly (readonly unknown[])[]): Statement => {
      const columns: unknown[][] = [[], [], [], [], [], [], [], [], []];
      for (const v of units) {
        const messageIds = v[3] as readonly unknown[];
        for (let k = 0; k < messageIds.length; k++) {
          columns[0]!.push(v[0]);
          columns[1]!.push(v[1]);
          columns[2]!.push(v[2]);
          columns[3]!.push(k + 1);
          for (let c = 3; c < 8; c++) columns[c + 1]!.push((v[c] as readonly unknown[])[k]);
        }
      }
      return { name, text, values: columns };
    },
    split: (result: pg.QueryResult, units: readonly (readonly unknown[])[]): pg.QueryResult[] => {
      const byStream = new Map<string, pg.QueryResultRow[]>();
      for (const row of result.rows) {
        const key = `${row.tenant_id}\u0000${row.stream_id}`;
        const rows = byStream.get(key);
        if (rows === undefined) byStream.set(key, [row]);
        else rows.push(row);
      }
      return units.map((v) => {
        const rows = byStream.get(`${String(v[0])}\u0000${String(v[1])}`) ?? [];
        return { ...result, rows, rowCount: rows.length };
      });
    },
  });
}

/** `s`: the escaped schema. */
function mergedAppendText(s: string, batchHook: string | undefined): string {
  const table = `${s}.events`;
  const refuse = `${s}.refuse_append`;
  return `with e as (
  select e.*, h.v, h.tx
    from unnest($1::uuid[], $2::text[], $3::bigint[], $4::int[], $5::uuid[], $6::text[], $7::int[], $8::jsonb[], $9::jsonb[])
         with ordinality as e(tenant_id, stream_id, expected, k, message_id, type, schema_version, data, metadata, n)
   cross join lateral (
     select coalesce(max(x.stream_version), 0) as v, max(x.transaction_id) as tx
       from (select ev.stream_version, ev.transaction_id from ${table} ev
              where ev.tenant_id = e.tenant_id and ev.stream_id = e.stream_id
              order by ev.stream_version desc limit 1) x) h
),
appended as (
  select e.tenant_id, e.stream_id, e.v + e.k as stream_version, e.message_id, e.type, e.schema_version, e.data, e.metadata, e.n
    from e
   where case when e.expected is not null and e.v <> e.expected then ${refuse}(e.stream_id, e.v, e.expected)
              when e.tx > pg_current_xact_id() then ${refuse}(e.stream_id, e.v, null)
              else true end
)${batchHook === undefined ? '' : `,\nappend_hook as (\n${batchHook}\n)`}
insert into ${table} as ev (tenant_id, stream_id, stream_version, message_id, type, schema_version, data, metadata)
select a.tenant_id, a.stream_id, a.stream_version, a.message_id, a.type, a.schema_version, a.data, a.metadata from appended a order by a.n
returning ev.tenant_id::text as tenant_id, ev.stream_id, ev.global_position::text as global_position, ev.transaction_id::text as transaction_id,
          ev.stream_version::text as stream_version, ev.recorded_at`;
}
