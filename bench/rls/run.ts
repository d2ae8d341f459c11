/**
 * RLS against an explicit WHERE: the same tenant-scoped queries, through the same unit of work
 * (role + tenant settings), on two identical tables: one under FORCEd Row-Level Security with the
 * platform's policy shape and no WHERE on tenant_id, one without RLS and with `WHERE tenant_id = $1`.
 * 16 concurrent clients for a fixed duration, alternating the variants per transaction; prints the ratio.
 *
 *   node --import tsx bench/rls/run.ts        (DATABASE_URL, default the local PostgreSQL)
 */
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { unitOfWork } from '../../src/platform/db/index.ts';
import { adminQuery, dropDatabase, freshDatabase } from '../database.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const clients = 16;
const dbName = 'brigade_bench_rls';

const pool = new pg.Pool({ connectionString: await freshDatabase(dbName), max: clients });

const tenants = Array.from({ length: 50 }, () => randomUUID());
console.log('setting up 2 × 100,000 rows over 50 tenants …');
await pool.query(`
  do $$ begin create role brigade_bench nologin; exception when duplicate_object then null; end $$;
  create schema bench; grant usage on schema bench to brigade_bench;
  create table bench.with_rls (tenant_id uuid not null, id uuid not null default gen_random_uuid(), name text not null, price int not null, primary key (tenant_id, id));
  create table bench.without_rls (like bench.with_rls including all);
  grant select on bench.with_rls, bench.without_rls to brigade_bench;
  alter table bench.with_rls enable row level security, force row level security;
  create policy tenant on bench.with_rls for all
    using (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))
    with check (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));`);
await pool.query(
  `insert into bench.with_rls (tenant_id, name, price) select ($1::uuid[])[1 + (g % 50)], 'item ' || g, g % 5000 from generate_series(1, 100000) g`,
  [tenants],
);
await pool.query(`insert into bench.without_rls select * from bench.with_rls; analyze bench.with_rls; analyze bench.without_rls;`);
const ids = (await pool.query<{ tenant_id: string; id: string }>('select tenant_id, id from bench.with_rls order by random() limit 5000')).rows;

type Variant = { name: string; list: string; point: string; agg: string; bind: (tenant: string) => unknown[] };
const variants: Variant[] = [
  {
    name: 'RLS, no WHERE on tenant_id',
    list: 'select id, name, price from bench.with_rls order by price desc limit 50',
    point: 'select id, name, price from bench.with_rls where id = $1',
    agg: 'select count(*), sum(price) from bench.with_rls',
    bind: () => [],
  },
  {
    name: 'no RLS, explicit WHERE tenant_id = $1',
    list: 'select id, name, price from bench.without_rls where tenant_id = $1 order by price desc limit 50',
    point: 'select id, name, price from bench.without_rls where tenant_id = $1 and id = $2',
    agg: 'select count(*), sum(price) from bench.without_rls where tenant_id = $1',
    bind: (tenant) => [tenant],
  },
];

/**
 * Interleaved A/B: every client alternates the two variants transaction by transaction, so noise
 * from the machine (other processes, checkpoints) falls on both alike. Same concurrency for both, so
 * the ratio of mean latencies is the ratio of throughputs.
 */
async function run(): Promise<Map<string, number[]>> {
  const latencies = new Map(variants.map((v) => [v.name, [] as number[]]));
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = client; performance.now() < end; i++) {
        const v = variants[i % 2] as Variant;
        const row = ids[randomInt(ids.length)] as { tenant_id: string; id: string };
        const started = performance.now();
        await unitOfWork(pool, { service: 'bench', tenantId: row.tenant_id, readOnly: true }, async (tx) => {
          await tx.query(v.list, v.bind(row.tenant_id));
          await tx.query(v.point, [...v.bind(row.tenant_id), row.id]);
          await tx.query(v.agg, v.bind(row.tenant_id));
        });
        latencies.get(v.name)?.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

console.log(`${clients} clients for ${seconds} s, alternating the variants per transaction …`);
const results = await run();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)] ?? 0;
console.log('\nunit of work = BEGIN + role + tenant settings, a top-50 list, a point read and an aggregate, COMMIT');
console.log(`${'variant'.padEnd(40)} ${'tx'.padStart(7)} ${'mean ms'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
for (const [name, xs] of results) console.log(`${name.padEnd(40)} ${String(xs.length).padStart(7)} ${mean(xs).toFixed(2).padStart(8)} ${pct(xs, 0.5).toFixed(2).padStart(8)} ${pct(xs, 0.99).toFixed(2).padStart(8)}`);
const rls = results.get(variants[0]?.name ?? '') as number[];
const where = results.get(variants[1]?.name ?? '') as number[];
const ratio = mean(where) / mean(rls);
console.log(`\nRLS / explicit WHERE throughput: ${ratio.toFixed(3)} (RLS ${((1 - ratio) * 100).toFixed(1)}% slower; goal at most 5%)`);
await pool.end();
await dropDatabase(dbName);
// Roles are cluster-wide: leave none behind.
await adminQuery('drop role if exists brigade_bench').catch(() => undefined);
