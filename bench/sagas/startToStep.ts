/**
 * Saga pick-up benchmark: how long a saga's first step waits after the transaction that started it
 * committed, with the runners as `brigade start` runs the payments service's (competing runners, the
 * default idle poll). That wait is part of every payment's authorization: the order is placed, the
 * payments consumer starts the saga, and the charge runs when a runner claims it.
 *
 * Each sample: a pause of 0–600 ms at random (so that starts land anywhere in the runners' idle
 * poll), one saga started and committed, then the time until its step's action began.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/sagas/startToStep.ts
 *
 * Environment: BENCH_SAMPLES (default 100), BENCH_RUNNERS (default 4, as the payments service).
 * Creates its own database and drops it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { unitOfWork } from '../../src/platform/db/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { createSagaRegistry, createSagaRunner, defineSaga, startSaga } from '../../src/platform/sagas/index.ts';
import { dropDatabase, freshDatabase } from '../database.ts';
import { describeWaits } from '../latency.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const RUNNERS = Number(process.env.BENCH_RUNNERS ?? 4);
const name = `brigade_bench_saga_${process.pid}`;

async function main() {
  const url = await freshDatabase(name);
  const pool = new pg.Pool({ connectionString: url, max: RUNNERS + 4 });
  pool.on('error', () => undefined);
  const stop = new AbortController();
  try {
    await runMigrations({ url, sets: migrationSets(), onProgress: () => undefined });
    const began = new Map<string, number>();
    const arrived = new Map<string, () => void>();
    const saga = defineSaga<{ id: string }, { id: string }>({
      name: 'bench',
      initialState: { id: '' },
      start: (s, input) => ({ state: { ...s, id: input.id }, run: ['step'] }),
      steps: {
        step: {
          action: async (ctx) => {
            began.set(ctx.state.id, performance.now());
            arrived.get(ctx.state.id)?.();
            return null;
          },
        },
      },
      on: { 'step.succeeded': (s) => ({ state: s, complete: true }) },
    });
    const registry = createSagaRegistry({ schema: 'payments', sagas: [saga] });
    const uow: Parameters<typeof createSagaRunner>[0]['unitOfWork'] = (context, fn) => unitOfWork(pool, context, fn);
    const running = Array.from({ length: RUNNERS }, () => createSagaRunner({ unitOfWork: uow, service: 'payments', registry }).run(stop.signal));
    const tenantId = randomUUID();
    const waits: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 600));
      const id = randomUUID();
      const step = new Promise<void>((resolve) => arrived.set(id, resolve));
      await uow({ service: 'payments', tenantId, actor: { kind: 'system', id: 'bench' } }, (tx) => startSaga(tx, registry, { name: 'bench', id, input: { id } }));
      const committed = performance.now();
      await step;
      waits.push(began.get(id)! - committed);
      arrived.delete(id);
      if ((i + 1) % 25 === 0) process.stdout.write(`  ${i + 1}/${SAMPLES} samples\n`);
    }
    stop.abort();
    await Promise.all(running);
    console.log(`saga start → first step, ${SAMPLES} samples, ${RUNNERS} runners: ${describeWaits(waits)}`);
  } finally {
    stop.abort();
    await pool.end();
    await dropDatabase(name);
  }
}

await main();
