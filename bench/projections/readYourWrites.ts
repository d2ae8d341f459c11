/**
 * Read-your-writes benchmark: how long a read with `?after=<position>` waits for the view, from the
 * command's commit until `waitForPosition` sees the projection's checkpoint at or past the position
 * (decision 0032), with the projection running as `brigade start` runs it (`runProjection`, default
 * idle step, its own process's pool).
 *
 * Each sample: one order event appended and committed (as a command does), then one wait for its
 * position, as the client's next read. Samples are spaced by a random pause (0–300 ms) so that they
 * land anywhere in the runner's idle step, as a person's clicks do. The waits use a projection listener,
 * as the HTTP routes do. Also counted: the pool round trips of the waits (checkpoint reads, wake-ups)
 * and the batches the runner committed.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/projections/readYourWrites.ts
 *
 * Environment: BENCH_SAMPLES (default 200). Creates its own database and drops it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { commitStatements } from '../../src/platform/db/index.ts';
import { createEventStore } from '../../src/platform/events/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { listenToProjections, runProjection, waitForPosition, type Projection } from '../../src/platform/projections/index.ts';
import { dropDatabase, freshDatabase } from '../database.ts';
import { describeWaits } from '../latency.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const name = `brigade_bench_ryw_${process.pid}`;

async function main() {
  const url = await freshDatabase(name);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on('error', () => undefined);
  const stop = new AbortController();
  try {
    await runMigrations({ url, sets: migrationSets(), onProgress: () => undefined });
    const store = createEventStore({ schema: 'ordering' });
    let batches = 0;
    const projection: Projection = { name: 'ryw', service: 'ordering', schema: 'ordering', table: 'unused', store, reads: 'fold', apply: async () => [] };
    const runner = runProjection(pool, projection, { onBatch: () => batches++ });
    const running = runner.run(stop.signal);
    // Counts what the waits take from the pool: checkpoint reads and wake-ups.
    let reads = 0;
    const counted = new Proxy(pool, {
      get: (target, key, receiver) => (key === 'connect' ? (...args: []) => (reads++, target.connect(...args)) : Reflect.get(target, key, receiver)),
    });
    // As the HTTP routes wait: with the process's projection listener.
    const listener = await listenToProjections(pool);
    const tenantId = randomUUID();
    const waits: number[] = [];
    let lagging = 0;
    for (let i = 0; i < SAMPLES; i++) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
      const { events } = await store.appendAndCommit((context, statements) => commitStatements(pool, context, statements), { service: 'ordering', tenantId }, `order-${randomUUID()}`, [{ type: 'OrderPlaced', data: { i } }], 0);
      const started = performance.now();
      const { caughtUp } = await waitForPosition(counted, projection, events[0]!.globalPosition, { timeoutMs: 2000, listener });
      waits.push(performance.now() - started);
      if (!caughtUp) lagging++;
      if ((i + 1) % 50 === 0) process.stdout.write(`  ${i + 1}/${SAMPLES} samples\n`);
    }
    stop.abort();
    await running;
    await listener.close();
    console.log(`read-your-writes wait, ${SAMPLES} samples: ${describeWaits(waits)}; ${lagging} timed out`);
    console.log(`pool round trips per wait (checkpoint reads, wake-ups) ${(reads / SAMPLES).toFixed(1)}; runner batches ${batches} (${(batches / SAMPLES).toFixed(2)} per sample)`);
  } finally {
    stop.abort();
    await pool.end();
    await dropDatabase(name);
  }
}

await main();
