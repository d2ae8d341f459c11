/**
 * The client side of appends, for counting instructions (appendInstructions.sh beside this file):
 * BENCH_WRITERS writers (default 1) append BENCH_APPENDS order events (4 per order, each with its
 * expected version) through `appendAndCommit` and the tenant router, as commands do, on a database
 * migrated beforehand. Every unit goes out alone (no group-commit merging: how many units a batch
 * merges depends on timing, which valgrind changes); with one writer nothing else interleaves either,
 * so two runs execute nearly the same code (16 writers: counts 5–8 % apart between repeats).
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<migrated db> BENCH_APPENDS=2000 node --import tsx bench/event-store/appendClient.ts
 */
import { randomUUID } from 'node:crypto';
import { createDatabases } from '../../src/platform/db/index.ts';
import { createTenantRouter } from '../../src/platform/tenancy/index.ts';
import { createOrderStore } from '../../src/services/ordering/orderStore.ts';

const url = process.env.BENCH_DATABASE_URL;
if (url === undefined) throw new Error('Set BENCH_DATABASE_URL to a migrated database (appendInstructions.sh makes one)');
const APPENDS = Number(process.env.BENCH_APPENDS ?? 2000);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 1);

const databases = createDatabases({ url, poolSize: WRITERS + 4, commitsInFlight: WRITERS + 1 });
const router = createTenantRouter({ databases });
const store = createOrderStore();
let started = 0;
try {
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const tenantId = randomUUID();
      while (started < APPENDS) {
        started += 4;
        const orderId = randomUUID();
        for (let step = 0; step < 4; step++) {
          const data = step === 0 ? { orderId, lines: [{ name: 'Margherita', unitPrice: 950, quantity: 2 }], total: 1900 } : { orderId, etaMinutes: 25 };
          await store.appendAndCommit(router.commitStatements, { service: 'ordering', tenantId, actor: { kind: 'staff', id: orderId } }, `order-${orderId}`, [
            { type: step === 0 ? 'OrderPlaced' : 'OrderAccepted', data },
          ], step);
        }
      }
    }),
  );
} finally {
  await databases.close();
}
