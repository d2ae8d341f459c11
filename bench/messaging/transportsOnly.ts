/**
 * The transports alone (no outbox, no relay; the benchmark is commitToHandler.ts beside this
 * file). Commit to consumer handler: one message per business transaction, 16 concurrent producers, one
 * worker process-side with 16 handlers, the same job for every system on the same PostgreSQL:
 *
 *   brigade/postgres  the message is written with publishToBus inside the business transaction
 *   brigade/nats      the business transaction commits, then transport.publish (no outbox/relay yet:
 *                     that part of the pipeline comes with src/platform/outbox)
 *   graphile-worker   graphile_worker.add_job inside the business transaction
 *   pg-boss           boss.send(…, { db }) inside the business transaction (queue with notify)
 *
 * Latency is from COMMIT returning to the handler starting. Prints messages/s, p50/p99 and ratios.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222 \
 *     node --import tsx bench/messaging/transportsOnly.ts            # BENCH_MESSAGES=4000
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { createNatsTransport, createPgTransport, ensureBusSchema, newMessageId, publishToBus, type Transport } from '../../src/platform/messaging/index.ts';
import { chooseByName } from '../chooseByName.ts';
import { deleteStream, inTransaction, insertOrder, measureCommitToHandler, SETTINGS, type BenchResult, type BenchSetup } from './harness.ts';
import { peerSetups } from './peers.ts';

const { natsUrl, messages: N, warmup: WARMUP, producers: PRODUCERS, handlers: CONCURRENCY } = SETTINGS;


const headers = { correlation: 'bench', causation: 'bench', tenant: '', traceparent: '' };
const msg = (n: number) => ({ id: newMessageId(), subject: 'bench.order.placed', key: `o${n}`, headers, payload: { n } });

const systems: Record<string, BenchSetup> = {
  'brigade/postgres': inTransaction(async (url, onHandled) => {
    const pool = new pg.Pool({ connectionString: url, max: 20 });
    pool.on('error', (e) => console.error('brigade/postgres pool:', e.message));
    await ensureBusSchema(pool);
    const transport = createPgTransport({ pool });
    await transport.ensureSubscription({ subscription: 'bench', pattern: 'bench.order.*' });
    const c = new AbortController();
    const w = transport.subscribe({ subscription: 'bench', concurrency: CONCURRENCY, prefetch: CONCURRENCY, signal: c.signal }, async (m) => onHandled((m.payload as { n: number }).n));
    return {
      produce: async (client, n) => {
        await insertOrder(client, n);
        await publishToBus(client, [msg(n)]);
      },
      stop: async () => {
        c.abort();
        await w.done;
        await transport.close();
        await pool.end();
      },
    };
  }),
  'brigade/nats': inTransaction(async (url, onHandled) => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', (e) => console.error('brigade/nats pool:', e.message));
    await ensureBusSchema(pool);
    const stream = `BENCH_${randomBytes(3).toString('hex').toUpperCase()}`;
    const transport: Transport = await createNatsTransport({ servers: natsUrl, pool, stream, subjects: ['bench.>'] });
    await transport.ensureSubscription({ subscription: 'bench', pattern: 'bench.order.*' });
    const c = new AbortController();
    const w = transport.subscribe({ subscription: 'bench', concurrency: CONCURRENCY, prefetch: 64, signal: c.signal }, async (m) => onHandled((m.payload as { n: number }).n));
    return {
      produce: (client, n) => insertOrder(client, n).then(() => undefined),
      afterCommit: (n) => transport.publish([msg(n)]),
      stop: async () => {
        c.abort();
        await w.done;
        await transport.close();
        await deleteStream(stream);
        await pool.end();
      },
    };
  }),
  ...peerSetups(CONCURRENCY),
};

async function measure(name: string, setup: BenchSetup): Promise<BenchResult> {
  const result = await measureCommitToHandler(SETTINGS, setup);
  console.log(`${name.padEnd(18)} ${result.rate.toFixed(0).padStart(7)} msg/s   p50 ${result.p50.toFixed(2).padStart(7)} ms   p99 ${result.p99.toFixed(2).padStart(8)} ms`);
  return result;
}

console.log(`commit → handler, ${N} messages (+${WARMUP} warm-up), ${PRODUCERS} producers, ${CONCURRENCY} handlers; ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
const results: Record<string, BenchResult> = {};
for (const name of chooseByName('systems', process.argv.slice(2), Object.keys(systems))) results[name] = await measure(name, systems[name]!);
const gw = results['graphile-worker'];
if (gw) {
  for (const name of ['brigade/nats', 'brigade/postgres', 'pg-boss']) {
    const r = results[name];
    if (r) console.log(`${name} / graphile-worker = ${(r.rate / gw.rate).toFixed(2)}× messages/s`);
  }
}
