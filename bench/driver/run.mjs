/**
 * PostgreSQL driver benchmark: `pg` (node-postgres) vs `postgres` (porsager/postgres.js).
 *
 * What it measures: the throughput and latency of one "op" = a single-row
 * `INSERT ... RETURNING id` followed by a `SELECT` of that row by primary key,
 * both with bound parameters (extended protocol), issued by N concurrent
 * workers (default 16) sharing a pool of N connections.
 *
 * Variants:
 *   - pg           pg.Pool#query(text, values): unnamed statement, parsed on every call
 *   - pg-prepared  pg.Pool#query({ name, text, values }): named prepared statement,
 *                  parsed once per connection
 *   - postgres     sql`...` tagged template: postgres.js prepares and caches
 *                  statements per connection by default (prepare: true)
 *
 * Each variant runs a warm-up (default 2 s, not recorded) and then a measured
 * window (default 10 s). Every variant starts on an empty, freshly vacuumed
 * table after a CHECKPOINT. The variants are run twice, the second round in
 * reverse order (pg, postgres, pg-prepared, then pg-prepared, postgres, pg), to
 * cancel warm-up and ordering bias; the report gives the mean of the two rounds
 * and each round. Ratios are relative to the `pg` variant.
 *
 * It creates the scratch database `brigade_bench_driver` (dropped first if it
 * exists) and drops it again at the end.
 *
 * Environment:
 *   DATABASE_URL          admin connection (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_SECONDS         measured seconds per variant and round (default 10)
 *   BENCH_WARMUP_SECONDS  warm-up seconds per variant and round (default 2)
 *   BENCH_CLIENTS         concurrent workers = pool size (default 16)
 *
 * Run: cd bench && npm run driver
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import postgres from 'postgres';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const DB_NAME = 'brigade_bench_driver';

for (const [k, v] of Object.entries({ SECONDS, WARMUP_SECONDS, CLIENTS })) {
  if (!Number.isFinite(v) || v < 0 || (k !== 'WARMUP_SECONDS' && v <= 0)) {
    throw new Error(`invalid ${k}: ${v}`);
  }
}

const benchUrl = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();

const INSERT_SQL = 'INSERT INTO bench_rows (tenant_id, body) VALUES ($1, $2) RETURNING id';
const SELECT_SQL = 'SELECT id, tenant_id, body FROM bench_rows WHERE id = $1';
const BODY = 'order placed: 2x margherita, 1x tiramisu; deliver to the back door, ring twice';

// An idle pooled client can still be closing when the scratch database is
// dropped WITH (FORCE); its termination error is expected and harmless.
const ignoreIdleError = () => {};

const log = (msg) => console.log(`[bench:driver] ${msg}`);

/** Each variant: open() returns { pair(tenantId, body) -> Promise<void>, close() }. */
const VARIANTS = {
  pg: {
    label: 'pg',
    async open() {
      const pool = new pg.Pool({ connectionString: benchUrl, max: CLIENTS });
      pool.on('error', ignoreIdleError);
      return {
        async pair(tenantId, body) {
          const ins = await pool.query(INSERT_SQL, [tenantId, body]);
          const id = ins.rows[0].id;
          const sel = await pool.query(SELECT_SQL, [id]);
          if (sel.rows.length !== 1 || sel.rows[0].id !== id) throw new Error('pg: row mismatch');
        },
        close: () => pool.end(),
      };
    },
  },
  'pg-prepared': {
    label: 'pg (named prepared)',
    async open() {
      const pool = new pg.Pool({ connectionString: benchUrl, max: CLIENTS });
      pool.on('error', ignoreIdleError);
      return {
        async pair(tenantId, body) {
          const ins = await pool.query({ name: 'bench_insert', text: INSERT_SQL, values: [tenantId, body] });
          const id = ins.rows[0].id;
          const sel = await pool.query({ name: 'bench_select', text: SELECT_SQL, values: [id] });
          if (sel.rows.length !== 1 || sel.rows[0].id !== id) throw new Error('pg-prepared: row mismatch');
        },
        close: () => pool.end(),
      };
    },
  },
  postgres: {
    label: 'postgres',
    async open() {
      const sql = postgres(benchUrl, { max: CLIENTS, onnotice: () => {} });
      return {
        async pair(tenantId, body) {
          const ins = await sql`INSERT INTO bench_rows (tenant_id, body) VALUES (${tenantId}, ${body}) RETURNING id`;
          const id = ins[0].id;
          const sel = await sql`SELECT id, tenant_id, body FROM bench_rows WHERE id = ${id}`;
          if (sel.length !== 1 || sel[0].id !== id) throw new Error('postgres: row mismatch');
        },
        close: () => sql.end({ timeout: 5 }),
      };
    },
  },
};

const ROUNDS = [
  ['pg', 'postgres', 'pg-prepared'],
  ['pg-prepared', 'postgres', 'pg'],
];

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

async function resetTable(admin) {
  await admin.query('TRUNCATE bench_rows RESTART IDENTITY');
  await admin.query('VACUUM ANALYZE bench_rows');
  await admin.query('CHECKPOINT');
}

async function runVariant(key) {
  const impl = await VARIANTS[key].open();
  const warmupEnd = performance.now() + WARMUP_SECONDS * 1000;
  const measureEnd = warmupEnd + SECONDS * 1000;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let errors = 0;
  let firstError;

  const worker = async (w) => {
    let seq = 0;
    for (;;) {
      const start = performance.now();
      if (start >= measureEnd) return;
      try {
        await impl.pair(randomUUID(), `${BODY} #${w}.${seq++}`);
      } catch (err) {
        errors++;
        firstError ??= err;
        if (errors > 100) throw firstError;
        continue;
      }
      const end = performance.now();
      if (start >= warmupEnd && end <= measureEnd) {
        if (count === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[count++] = end - start;
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
  } finally {
    await impl.close();
  }
  if (errors > 0) log(`  ${key}: ${errors} failed ops (first: ${firstError?.message})`);
  const sorted = latencies.subarray(0, count).sort();
  return {
    ops: count,
    opsPerSec: count / SECONDS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
  };
}

/** Installed version of a package, even if its "exports" hide package.json. */
function pkgVersion(name) {
  let dir = path.dirname(createRequire(import.meta.url).resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === name) return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function table(title, results) {
  const base = results.pg;
  const lines = [
    `### ${title}`,
    '',
    '| variant | ops/s | p50 ms | p99 ms | ops/s vs pg | p50 vs pg | p99 vs pg |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const key of Object.keys(VARIANTS)) {
    const r = results[key];
    lines.push(
      `| ${VARIANTS[key].label} | ${fmt(r.opsPerSec)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ` +
        `${fmt(r.opsPerSec / base.opsPerSec, 2)}x | ${fmt(r.p50 / base.p50, 2)}x | ${fmt(r.p99 / base.p99, 2)}x |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  let serverVersion;
  try {
    serverVersion = (await admin.query('SHOW server_version')).rows[0].server_version;
  } catch (err) {
    await admin.end();
    throw err;
  }
  log(
    `node ${process.version}, ${os.cpus().length} cpus, PostgreSQL ${serverVersion}, ` +
      `pg ${pkgVersion('pg')}, postgres ${pkgVersion('postgres')}`,
  );
  log(`${CLIENTS} workers / pool of ${CLIENTS}, ${WARMUP_SECONDS}s warm-up + ${SECONDS}s measured per variant and round`);

  const bench = new pg.Client({ connectionString: benchUrl });
  bench.on('error', ignoreIdleError);
  const perRound = [];
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DB_NAME}`);
    log(`created scratch database ${DB_NAME}`);
    await bench.connect();
    await bench.query(
      'CREATE TABLE bench_rows (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL)',
    );
    for (const [i, order] of ROUNDS.entries()) {
      const results = {};
      for (const key of order) {
        await resetTable(bench);
        log(`round ${i + 1}/${ROUNDS.length}: ${VARIANTS[key].label} ...`);
        const r = await runVariant(key);
        results[key] = r;
        log(
          `round ${i + 1}/${ROUNDS.length}: ${VARIANTS[key].label}: ${fmt(r.opsPerSec)} ops/s, ` +
            `p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms (${r.ops} ops)`,
        );
      }
      perRound.push(results);
    }
  } finally {
    await bench.end().catch(() => {});
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
      log(`dropped scratch database ${DB_NAME}`);
    } finally {
      await admin.end();
    }
  }

  const mean = {};
  for (const key of Object.keys(VARIANTS)) {
    const rs = perRound.map((r) => r[key]);
    const avg = (f) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    mean[key] = { opsPerSec: avg((r) => r.opsPerSec), p50: avg((r) => r.p50), p99: avg((r) => r.p99) };
  }

  console.log('');
  console.log('op = INSERT ... RETURNING id + SELECT by primary key; ratios relative to pg');
  console.log('');
  console.log(table(`Mean of ${perRound.length} rounds`, mean));
  for (const [i, r] of perRound.entries()) {
    console.log('');
    console.log(table(`Round ${i + 1} (order: ${ROUNDS[i].join(', ')})`, r));
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
