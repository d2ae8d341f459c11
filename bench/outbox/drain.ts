/**
 * What the relay costs per message, without producers competing: BENCH_ROWS outbox rows (default
 * 50,000, each a realistic order payload) are written first, then a relay drains them to the transport
 * while this measures the time and the CPU per row of this Node process (the relay), every PostgreSQL
 * process and nats-server. Full batches (500 rows): the floor of the relay's cost, which the commit →
 * handler benchmark's CPU/msg columns show under load.
 *
 *   postgres  the PostgreSQL transport in the outbox's database: one INSERT … SELECT per batch
 *             (decision 0056), one subscription, so every message also gets its delivery row
 *   nats      JetStream: the rows are read out and published with pipelined PubAcks
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222 \
 *     node --import tsx bench/outbox/drain.ts [postgres|nats …]      # BENCH_ROWS=50000 BENCH_ROUNDS=3 BENCH_BATCH=500 BENCH_PAYLOAD=order|small
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { createNatsTransport, createPgTransport, type Transport } from '../../src/platform/messaging/index.ts';
import { createRelay } from '../../src/platform/outbox/index.ts';
import { chooseByName } from '../chooseByName.ts';
import { cpuSince, readCpu } from '../cpu.ts';
import { dropDatabase, freshDatabase } from '../database.ts';
import { deleteStream, prepareOutbox } from '../messaging/harness.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ROWS = Number(process.env.BENCH_ROWS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Rows per claim (the relay's batchSize): smaller shows the fixed cost of a round. */
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
/** `order` (default): an order's payload; `small`: `{"n": …}`, as the commit → handler benchmark sends. */
const PAYLOAD = process.env.BENCH_PAYLOAD === 'small' ? `jsonb_build_object('n', n)` : `jsonb_build_object('orderId', n, 'lines', jsonb_build_array(jsonb_build_object('name', 'Margherita', 'unitPrice', 950, 'quantity', 2)), 'total', 1900)`;
type Kind = 'postgres' | 'nats';

/** One drain on a fresh database: rows/s and CPU µs per row. */
async function drain(kind: Kind): Promise<{ perSecond: number; node: number; postgres: number; nats: number }> {
  const db = `brigade_bench_drain_${randomBytes(3).toString('hex')}`;
  const pool = await prepareOutbox(await freshDatabase(db), 4);
  const stream = `BENCH_DRAIN_${randomBytes(3).toString('hex').toUpperCase()}`;
  let transport: Transport | undefined;
  try {
    await pool.query(
      `insert into delivery.outbox (message_id, subject, aggregate_key, headers, payload)
       select gen_random_uuid(), 'delivery.order.placed', 'order-' || n,
              jsonb_build_object('tenant', '', 'correlation', gen_random_uuid()::text, 'causation', '', 'traceparent', ''),
              ${PAYLOAD}
         from generate_series(1, $1::int) n`,
      [ROWS],
    );
    await pool.query('vacuum analyze delivery.outbox');
    transport = kind === 'nats' ? await createNatsTransport({ servers: NATS_URL, pool, stream, subjects: ['delivery.order.>'] }) : createPgTransport({ pool });
    await transport.ensureSubscription({ subscription: 'bench', pattern: 'delivery.order.*' });
    const stop = new AbortController();
    let published = 0;
    let drained!: () => void;
    const done = new Promise<void>((resolve) => (drained = resolve));
    const cpu0 = await readCpu();
    const t0 = performance.now();
    const relay = createRelay({
      pool,
      service: 'delivery',
      transport,
      batchSize: BATCH,
      onProgress: (e) => {
        if (e.kind === 'error') console.error('relay:', e.error);
        if (e.kind === 'published' && (published += e.messages.length) >= ROWS) drained();
      },
    }).run(stop.signal);
    await done;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = await cpuSince(cpu0, ROWS / 1e6);
    stop.abort();
    await relay;
    return { perSecond: ROWS / seconds, ...cpu };
  } finally {
    await transport?.close();
    if (kind === 'nats') await deleteStream(stream).catch(() => undefined);
    await pool.end();
    await dropDatabase(db);
  }
}

const kinds = chooseByName<Kind>('kinds', process.argv.slice(2), ['postgres', 'nats']);
console.log(`relay drain: ${ROWS} rows per run, ${ROUNDS} rounds in turns; ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
const results: Record<string, Array<Awaited<ReturnType<typeof drain>>>> = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const kind of kinds) {
    const r = await drain(kind);
    (results[kind] ??= []).push(r);
    console.log(`round ${round}  ${kind.padEnd(8)} ${r.perSecond.toFixed(0).padStart(6)} rows/s   CPU per row: relay (node) ${r.node.toFixed(1)} µs, postgres ${r.postgres.toFixed(1)} µs, nats-server ${r.nats.toFixed(1)} µs`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('\nmedians:');
for (const [kind, rs] of Object.entries(results)) {
  console.log(
    `${kind.padEnd(8)} ${median(rs.map((r) => r.perSecond)).toFixed(0).padStart(6)} rows/s   CPU per row: relay (node) ${median(rs.map((r) => r.node)).toFixed(1)} µs, postgres ${median(rs.map((r) => r.postgres)).toFixed(1)} µs, nats-server ${median(rs.map((r) => r.nats)).toFixed(1)} µs`,
  );
}
