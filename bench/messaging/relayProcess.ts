/**
 * The delivery outbox's relay in a process of its own, for the commit → handler benchmark's
 * "relay in its own process" systems: `node --import tsx bench/messaging/relayProcess.ts <database url> nats|postgres <stream>`.
 * Prints READY once it runs; SIGTERM stops it (the checkpoint saved), then it exits 0.
 */
import pg from 'pg';
import { createNatsTransport, createPgTransport, type Transport } from '../../src/platform/messaging/index.ts';
import { createRelay } from '../../src/platform/outbox/index.ts';

const [url, kind, stream] = process.argv.slice(2);
if (url === undefined || (kind !== 'nats' && kind !== 'postgres') || stream === undefined) {
  console.error('usage: relayProcess.ts <database url> nats|postgres <stream>');
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: url, max: 4 });
pool.on('error', () => undefined);
const transport: Transport =
  kind === 'nats' ? await createNatsTransport({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', pool, stream, subjects: ['bench.>'] }) : createPgTransport({ pool });
const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
const done = createRelay({ pool, service: 'delivery', transport, ...(process.env.BENCH_BUSY_POLL_MS ? { busyPollMs: Number(process.env.BENCH_BUSY_POLL_MS) } : {}) }).run(stop.signal);
console.log('READY');
await done;
await transport.close();
await pool.end();
