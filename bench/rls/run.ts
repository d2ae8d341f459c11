/**
 * RLS against an explicit WHERE: the same tenant-scoped queries, through the same unit of work
 * (role + tenant settings), on two identical tables: one under FORCEd Row-Level Security with the
 * platform's policy shape and no WHERE on tenant_id, one without RLS and with `WHERE tenant_id = $1`.
 * 16 concurrent clients, fixed duration per variant, variants alternated twice; prints the ratio.
 *
 *   node --import tsx bench/rls/run.ts        (DATABASE_URL, default the local PostgreSQL)
 */
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { unitOfWork } from '../../src/platform/db/index.ts';

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const clients = 16;
const dbName = 'brigade_bench_rls';

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`drop database if exists ${dbName} with (force)`);
await admin.query(`create database ${dbName}`);
await admin.end();
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: clients });

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

async function run(v: Variant): Promise<{ tps: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const row = ids[randomInt(ids.length)] as { tenant_id: string; id: string };
        const started = performance.now();
        await unitOfWork(pool, { service: 'bench', tenantId: row.tenant_id, readOnly: true }, async (tx) => {
          await tx.query(v.list, v.bind(row.tenant_id));
          await tx.query(v.point, [...v.bind(row.tenant_id), row.id]);
          await tx.query(v.agg, v.bind(row.tenant_id));
        });
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { tps: latencies.length / seconds, p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

const totals = new Map<string, { tps: number[]; p50: number[]; p99: number[] }>();
for (const round of [0, 1]) {
  for (const v of round === 0 ? variants : [...variants].reverse()) {
    console.log(`round ${round + 1}: ${v.name} for ${seconds} s …`);
    const r = await run(v);
    const t = totals.get(v.name) ?? { tps: [], p50: [], p99: [] };
    t.tps.push(r.tps);
    t.p50.push(r.p50);
    t.p99.push(r.p99);
    totals.set(v.name, t);
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log('\nunit of work = BEGIN + role + tenant settings, a top-50 list, a point read and an aggregate, COMMIT');
console.log(`${'variant'.padEnd(40)} ${'tx/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
for (const [name, t] of totals) console.log(`${name.padEnd(40)} ${mean(t.tps).toFixed(0).padStart(8)} ${mean(t.p50).toFixed(2).padStart(8)} ${mean(t.p99).toFixed(2).padStart(8)}`);
const rls = totals.get(variants[0]?.name ?? '') as { tps: number[] };
const where = totals.get(variants[1]?.name ?? '') as { tps: number[] };
const slower = (1 - mean(rls.tps) / mean(where.tps)) * 100;
console.log(`\nRLS / explicit WHERE throughput: ${(mean(rls.tps) / mean(where.tps)).toFixed(3)} (RLS ${slower.toFixed(1)}% slower; goal at most 5%)`);
await pool.end();
const cleanup = new pg.Client({ connectionString: adminUrl });
await cleanup.connect();
await cleanup.query(`drop database if exists ${dbName} with (force)`);
await cleanup.end();
