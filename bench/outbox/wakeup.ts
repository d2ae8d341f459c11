/**
 * Producers' transactions/s under each relay wake-up (decision 0036): 16 clients, each transaction one
 * single-row outbox insert (writeToOutbox in a unit of work), for BENCH_SECONDS each:
 *
 *   none          no relay; the wake-up trigger dropped: the producers' ceiling
 *   notify-every  relay running; a trigger NOTIFYs in every producing transaction
 *   poll-only     relay running, trigger dropped: what the relay's own claims and marks cost
 *   flag          relay running; the shipped trigger: NOTIFY only while the relay flagged itself asleep
 *
 * The relay publishes to JetStream (a separate process), so the database work measured is the producers'
 * plus the relay's claims and marks.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222 \
 *     node --import tsx bench/outbox/wakeup.ts
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { unitOfWork } from '../../src/platform/db/index.ts';
import { createNatsTransport, ensureBusSchema } from '../../src/platform/messaging/index.ts';
import { createRelay, outboxMigrationsSql, writeToOutbox } from '../../src/platform/outbox/index.ts';
import { dropDatabase, freshDatabase } from '../database.ts';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
type Mode = 'none' | 'poll-only' | 'notify-every' | 'flag';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CLIENTS = 16;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

async function database(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `brigade_bench_wake_${randomBytes(3).toString('hex')}`;
  return { url: await freshDatabase(name), drop: () => dropDatabase(name) };
}

async function measure(mode: Mode): Promise<number> {
  const db = await database();
  const pool = new pg.Pool({ connectionString: db.url, max: CLIENTS + 4 });
  pool.on('error', () => undefined);
  await pool.query(await readFile(new URL('../../src/services/platform/migrations/0001_service_schemas_and_roles.sql', import.meta.url), 'utf8'));
  for (const sql of outboxMigrationsSql({ schema: 'delivery', role: 'brigade_delivery' })) await pool.query(sql);
  await ensureBusSchema(pool);
  if (mode === 'none' || mode === 'poll-only') await pool.query('drop trigger outbox_wake on delivery.outbox');
  if (mode === 'notify-every') {
    await pool.query(`create or replace function delivery.outbox_wake() returns trigger language plpgsql as $$
      begin perform pg_notify('brigade_outbox_delivery', ''); return null; end $$`);
  }
  const stream = `BENCH_WAKE_${randomBytes(3).toString('hex').toUpperCase()}`;
  const transport = mode === 'none' ? null : await createNatsTransport({ servers: natsUrl, pool, stream, subjects: ['delivery.>'] });
  const c = new AbortController();
  const relayDone = transport === null ? null : createRelay({ pool, service: 'delivery', transport }).run(c.signal);
  await new Promise((r) => setTimeout(r, 300));
  let count = 0;
  let stop = false;
  const ctx = { service: 'delivery', tenantId: null, actor: { kind: 'system' as const, id: 'bench' } };
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      await unitOfWork(pool, ctx, (tx) => writeToOutbox(tx, [{ subject: 'delivery.task.Created', key: `w${w}-${i}`, payload: { i } }]));
      count++;
    }
  };
  const started = performance.now();
  const workers = Array.from({ length: CLIENTS }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  stop = true;
  await Promise.all(workers);
  const rate = count / ((performance.now() - started) / 1000);
  c.abort();
  await relayDone;
  await transport?.close();
  if (transport !== null) {
    const nc = await connect({ servers: natsUrl });
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
    await nc.close();
  }
  await pool.end();
  await db.drop();
  return rate;
}

console.log(`producers' tx/s, ${CLIENTS} clients, one outbox insert per transaction, ${SECONDS} s per run, ${ROUNDS} rounds; ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
const results: Record<string, number[]> = { none: [], 'poll-only': [], 'notify-every': [], flag: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['none', 'poll-only', 'notify-every', 'flag'] as const) {
    const rate = await measure(mode);
    results[mode]!.push(rate);
    console.log(`round ${round + 1} ${mode.padEnd(13)} ${rate.toFixed(0).padStart(7)} tx/s`);
  }
}
const best = (m: string) => Math.max(...results[m]!);
console.log(`poll-only / none = ${(best('poll-only') / best('none')).toFixed(2)}   notify-every / none = ${(best('notify-every') / best('none')).toFixed(2)}   flag / none = ${(best('flag') / best('none')).toFixed(2)} (best of ${ROUNDS})`);
