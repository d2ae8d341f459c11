import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { unitOfWork, type Tx } from '../../../src/platform/db/index.ts';
import { claimSagaWork } from '../../../src/platform/sagas/claimSagaWork.ts';
import { createSagaRegistry, fireDueDeadlines, startSaga } from '../../../src/platform/sagas/index.ts';
import { tenantFenceKey, tenantNotMoving } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { TOY_TABLES, toySaga, type ToyInput, type ToyState } from './toySaga.ts';

const SYSTEM = { kind: 'system', id: 'test' } as const;

// Decision 0008: a move holds the restaurant's fence while it copies and deletes its rows. Claims of
// saga work and deadline firings run without a tenant, so the fence that every tenant transaction
// takes did not hold them: a claim's lease written during the copy changed a row the move then found
// changed, and a busy restaurant's move could fail again and again (TENANT_CHANGED_DURING_MOVE).
const database = useTestDatabase();

test("claims of saga work and deadline firings leave a moving restaurant's sagas for later, and take the others'", async () => {
  const pool = database.pool(4);
  await pool.query(TOY_TABLES);
  const registry = createSagaRegistry({ schema: 'payments', sagas: [toySaga(pool)], claimGuard: tenantNotMoving });
  const system = <T>(fn: (tx: Tx) => Promise<T>) => unitOfWork(pool, { service: 'payments', actor: SYSTEM }, fn);
  const claim = () => system((tx) => claimSagaWork(tx, registry, 'w', 60_000));
  const start = async (tenantId: string) =>
    (await unitOfWork(pool, { service: 'payments', tenantId, actor: SYSTEM }, (tx) => startSaga<ToyState, ToyInput>(tx, registry, { name: 'toy', input: { acceptWithinMs: 3_600_000 } }))).instance.id;
  const moving = randomUUID();
  const staying = randomUUID();
  const sagas = new Map([[await start(moving), moving], [await start(staying), staying]]);
  await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second'`);

  // The move's fence, taken as moveTenant takes it, on a session of its own.
  const fence = await pool.connect();
  try {
    await fence.query(`select pg_advisory_lock(${tenantFenceKey('$1::uuid')})`, [moving]);
    const claimed: string[] = [];
    for (let c = await claim(); c !== null; c = await claim()) claimed.push(c.tenantId);
    assert.deepEqual(claimed, [staying], 'only the staying restaurant\'s saga is claimed while the other one moves');
    const fired = await system((tx) => fireDueDeadlines(tx, registry));
    assert.deepEqual(fired.map((d) => d.tenantId), [staying], 'only the staying restaurant\'s deadline fires');
    const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from payments.saga_instances where tenant_id = $1 and locked_until is null`, [moving]);
    assert.equal(rows[0]!.n, 1, "the moving restaurant's saga is unchanged");

    await fence.query(`select pg_advisory_unlock(${tenantFenceKey('$1::uuid')})`, [moving]);
    const later = await claim();
    assert.equal(later?.tenantId, moving, 'once the fence is gone, its saga is claimed');
    assert.equal(sagas.get(later.id), moving);
    assert.deepEqual((await system((tx) => fireDueDeadlines(tx, registry))).map((d) => d.tenantId), [moving], 'and its deadline fires');
  } finally {
    fence.release();
  }
});
