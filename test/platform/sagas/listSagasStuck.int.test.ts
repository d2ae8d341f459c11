import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { listSagas } from '../../../src/platform/sagas/index.ts';
import { useTestDatabase } from '../../support/db.ts';

const ADMIN = { kind: 'admin', id: 'test' } as const;

describe('the stuck list under a cut: failed and parked sagas come before running ones (found by a review)', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const tenantId = randomUUID();
  const parkedId = randomUUID();
  const failedId = randomUUID();

  before(async () => {
    pool = database.pool(2);
    // 120 payment sagas of orders in transit: running, nothing pending (waiting for OrderDelivered),
    // last changed 20 to 40 minutes ago: normal, but unchanged longer than the stuck list's 15 minutes.
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, created_at, updated_at)
       select $1, gen_random_uuid(), 'payment', '{}', 'running', '{}', now() - interval '1 hour', now() - interval '20 minutes' - g * interval '10 seconds'
         from generate_series(1, 120) g`,
      [tenantId],
    );
    // One parked at its charge 50 minutes ago and one failed an hour ago: older than every one of them.
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, error, created_at, updated_at) values
         ($1, $2, 'payment', '{}', 'parked', '{charge}', 'charge: no answer says whether the card was charged', now() - interval '2 hours', now() - interval '50 minutes'),
         ($1, $3, 'payment', '{}', 'failed', '{undo:order}', 'charge failed; compensation order failed', now() - interval '2 hours', now() - interval '60 minutes')`,
      [tenantId, parkedId, failedId],
    );
  });

  const list = (options: Parameters<typeof listSagas>[2]) => unitOfWork(pool, { service: 'payments', actor: ADMIN, readOnly: true }, (tx) => listSagas(tx, 'payments', options));

  test('with stuckAfterMs, the parked and the failed saga head the list, and the running ones fill the rest up to the limit (before: 100 running ones, the parked and failed ones cut off)', async () => {
    const stuck = await list({ stuckAfterMs: 15 * 60_000 });
    assert.equal(stuck.length, 100);
    // Failed and parked first, each group most recently changed first.
    assert.deepEqual(stuck.slice(0, 2).map((s) => [s.id, s.status]), [[parkedId, 'parked'], [failedId, 'failed']]);
    assert.ok(stuck.slice(2).every((s) => s.status === 'running'), 'the rest are the running ones');
    const running = stuck.slice(2).map((s) => s.updatedAt);
    assert.deepEqual(running, [...running].sort().reverse(), 'the running ones most recently changed first');
    // A limit smaller than the failed and parked ones: still only those.
    assert.deepEqual((await list({ stuckAfterMs: 15 * 60_000, limit: 1 })).map((s) => s.id), [parkedId]);
  });

  test('without stuckAfterMs the list is as before: most recently changed first, whatever the status', async () => {
    const all = await list({ limit: 200 });
    assert.equal(all.length, 122);
    assert.deepEqual(all.slice(-2).map((s) => s.id), [parkedId, failedId]);
    const changed = all.map((s) => s.updatedAt);
    assert.deepEqual(changed, [...changed].sort().reverse());
    assert.deepEqual((await list({ stuckAfterMs: 15 * 60_000, status: 'running', limit: 200 })).length, 120, 'a status with stuckAfterMs still filters');
  });
});
