import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { createTransport } from '../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { newMessageId, type Message } from '../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../support/db.ts';
import { waitFor } from '../platform/messaging/support.ts';

const database = useTestDatabase();
let pool: pg.Pool;

before(async () => {
  await database.ready;
  pool = database.pool(6);
});

test('the platform transport claim-checks a payload over 64 KiB: a reference rides the bus, the handler gets the payload whole', async () => {
  const transport = await createTransport(loadConfig({ DATABASE_URL: database.db.url }, { services: SERVICE_NAMES }), pool);
  database.defer(() => transport.close());
  await transport.ensureSubscription({ subscription: 'claim-probe', pattern: 'menu.item.*' });
  const payload = { note: 'x'.repeat(70 * 1024) };
  const id = newMessageId();
  await transport.publish([{ id, subject: 'menu.item.Described', key: 'item-1', headers: { correlation: id, causation: '', tenant: '', traceparent: '' }, payload }]);

  const stored = await pool.query<{ payload: unknown; ref: string | null }>(`select payload, headers ->> 'claim-check' as ref from brigade_bus.messages where id = $1`, [id]);
  assert.equal(stored.rows[0]?.payload, null, 'the bus holds no payload');
  assert.match(stored.rows[0]?.ref ?? '', /^[0-9a-f]{64}$/);

  const got: Message[] = [];
  const stop = new AbortController();
  const worker = transport.subscribe({ subscription: 'claim-probe', signal: stop.signal }, async (m) => void got.push(m));
  try {
    await waitFor('the message is handled', () => got.length === 1);
  } finally {
    stop.abort();
    await worker.done;
  }
  assert.deepEqual(got[0]!.payload, payload);
  assert.equal(got[0]!.headers['claim-check'], undefined);
});
