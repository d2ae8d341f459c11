import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { NO_TRANSACTION_MARKER, splitStatements } from '../../../src/platform/migrations/index.ts';
import { createSagaRegistry, sagaTables } from '../../../src/platform/sagas/index.ts';
import { claimSagaWork, claimSagaWorkSql } from '../../../src/platform/sagas/claimSagaWork.ts';
import { tenantNotMoving } from '../../../src/platform/tenancy/index.ts';
import { repoRoot } from '../../support/cli.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';
import { TOY_TABLES, toySaga } from './toySaga.ts';

/** A node of an `explain (analyze, format json)` plan, with the counts only ANALYZE gives. */
type AnalyzedNode = PlanNode & { readonly 'Actual Rows'?: number; readonly 'Rows Removed by Filter'?: number };

const describePlan = (nodes: readonly AnalyzedNode[]) =>
  nodes
    .filter((n) => n['Node Type'] !== 'Result')
    .map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : n['Relation Name'] ? ` on ${n['Relation Name']}` : ''} (rows ${n['Actual Rows'] ?? '?'}, removed by filter ${n['Rows Removed by Filter'] ?? 0})`)
    .join(' / ');

const PARKED = 3000;
const table = sagaTables('payments');

/** Inserts a toy saga of `tenant` due a minute ago, the one a claim should take: its id. */
async function insertDue(pool: pg.Pool, tenant: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, run_after)
     values ($1, gen_random_uuid(), 'toy', '{"log": [], "input": {}}', 'running', '{a}', now() - interval '1 minute') returning id`,
    [tenant],
  );
  return rows[0]!.id;
}

/** The claim as payments runs it (the tenant fence's guard, decision 0008), executed and rolled back, as the service role under Row-Level Security. */
async function analyzedClaim(pool: pg.Pool): Promise<AnalyzedNode[]> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`select set_config('role', 'brigade_payments', true), set_config('brigade.actor_kind', 'system', true)`);
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: AnalyzedNode }> }>(`explain (analyze, format json) ${claimSagaWorkSql(table, tenantNotMoving('tenant_id'))}`, [
      'plan-test',
      30_000,
      ['toy'],
    ]);
    return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan) as AnalyzedNode[];
  } finally {
    await client.query('rollback');
    client.release();
  }
}

/**
 * The claim's plan reads saga_instances_runnable alone (no Seq Scan), one entry, and drops none by a
 * filter; `walkedPast` says, when it does, what it walked past.
 */
function assertReadsOneEntry(nodes: readonly AnalyzedNode[], walkedPast: string): void {
  const plan = describePlan(nodes);
  assert.equal(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'saga_instances').length, 0, `a Seq Scan on saga_instances: ${plan}`);
  const scan = nodes.find((n) => n['Index Name'] === 'saga_instances_runnable');
  assert.ok(scan !== undefined, `saga_instances_runnable unused: ${plan}`);
  assert.equal(scan['Rows Removed by Filter'] ?? 0, 0, `the claim walked past ${walkedPast}: ${plan}`);
  assert.equal(scan['Actual Rows'], 1, plan);
}

describe('a claim of saga work walks only the sagas a runner may take, not the parked ones', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let dueId: string;

  before(async () => {
    pool = database.pool(2);
    await pool.query(TOY_TABLES);
    // As autovacuum would find them between two of its rounds: rows, no statistics (a test below analyses).
    await pool.query(`alter table payments.saga_instances set (autovacuum_enabled = false)`);
    const tenants = Array.from({ length: 20 }, () => randomUUID());
    // Parked sagas keep their pending work (the step they parked at), each due long ago: what a claim
    // walked past, in run_after order, before reaching a saga it may take.
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, run_after)
       select ($1::uuid[])[1 + g % 20], gen_random_uuid(), 'toy', '{"log": [], "input": {}}', 'parked', '{a}', now() - interval '1 day' + g * interval '1 millisecond'
         from generate_series(1, $2::int) g`,
      [tenants, PARKED],
    );
    // Running sagas backing off (not due yet), and one due a minute ago: the one to claim.
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, run_after)
       select ($1::uuid[])[1 + g % 20], gen_random_uuid(), 'toy', '{"log": [], "input": {}}', 'running', '{a}', now() + g * interval '1 second'
         from generate_series(1, 200) g`,
      [tenants],
    );
    dueId = await insertDue(pool, tenants[0]!);
  });

  // Before, the index held the parked sagas too: the scan read each one due earlier and its status filter dropped it.
  const assertWalksOnlyClaimable = (nodes: readonly AnalyzedNode[]) => assertReadsOneEntry(nodes, 'sagas it cannot take');

  test("saga_instances_runnable's predicate holds the claimable statuses, its keys the saga type and run_after", async () => {
    const { rows } = await pool.query<{ indexdef: string }>(`select indexdef from pg_indexes where schemaname = 'payments' and indexname = 'saga_instances_runnable'`);
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.indexdef, /\(name, run_after\) WHERE \(\(cardinality\(pending\) > 0\) AND \(status = ANY \(ARRAY\['running'::text, 'compensating'::text\]\)\)\)$/, rows[0]!.indexdef);
  });

  test(`with ${PARKED} parked sagas due earlier, the claim reads one index entry (no statistics yet)`, async () => {
    assertWalksOnlyClaimable(await analyzedClaim(pool));
  });

  test('the same once the table is analysed', async () => {
    await pool.query('analyze payments.saga_instances');
    assertWalksOnlyClaimable(await analyzedClaim(pool));
  });

  test('the migration runs again (a failed run is repeated) to the same index, each statement on its own', async () => {
    // The newest migration of the index (0023, by saga type; 0017 put in the claimable statuses).
    const sql = await readFile(path.join(repoRoot, 'src/services/payments/migrations/0023_saga_runnable_by_type.sql'), 'utf8');
    assert.equal(sql.split('\n', 1)[0], NO_TRANSACTION_MARKER);
    // A run that failed after building the new index, before the rename: both exist.
    await pool.query(`create index saga_instances_runnable_next on payments.saga_instances (run_after) where cardinality(pending) > 0`);
    for (const statement of splitStatements(sql)) await pool.query(statement);
    const { rows } = await pool.query<{ indexname: string; valid: boolean }>(
      `select c.relname as indexname, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
        where i.indrelid = 'payments.saga_instances'::regclass and c.relname like 'saga_instances_runnable%'`,
    );
    assert.deepEqual(rows, [{ indexname: 'saga_instances_runnable', valid: true }]);
    assertWalksOnlyClaimable(await analyzedClaim(pool));
  });

  test('the claim takes the due running saga, none of the parked ones', async () => {
    const registry = createSagaRegistry({ schema: 'payments', sagas: [toySaga(pool)], claimGuard: tenantNotMoving });
    const claimed = await unitOfWork(pool, { service: 'payments', actor: { kind: 'system', id: 'test' } }, (tx) => claimSagaWork(tx, registry, 'plan-test', 30_000));
    assert.deepEqual([claimed?.id, claimed?.status], [dueId, 'running']);
  });
});

describe("a claim of saga work walks only the saga types its registry holds, not a retired type's due sagas", () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let dueId: string;
  const RETIRED = 3000;

  before(async () => {
    pool = database.pool(2);
    await pool.query(TOY_TABLES);
    await pool.query(`alter table payments.saga_instances set (autovacuum_enabled = false)`);
    const tenants = Array.from({ length: 20 }, () => randomUUID());
    // A saga type retired from the code: its unfinished sagas stay in the table, running, each with a
    // step due long ago, which no runner of this release takes (its registry lacks the type).
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status, pending, run_after)
       select ($1::uuid[])[1 + g % 20], gen_random_uuid(), 'retired', '{}', 'running', '{a}', now() - interval '1 day' + g * interval '1 millisecond'
         from generate_series(1, $2::int) g`,
      [tenants, RETIRED],
    );
    dueId = await insertDue(pool, tenants[0]!);
  });

  for (const analysed of [false, true]) {
    test(`the claim reads one index entry, whatever the retired sagas due earlier (${analysed ? 'analysed' : 'no statistics yet'})`, async () => {
      if (analysed) await pool.query('analyze payments.saga_instances');
      // Before, the index led with run_after alone: the scan read every retired saga due earlier and the name filter dropped it.
      assertReadsOneEntry(await analyzedClaim(pool), 'sagas of a type it does not run');
    });
  }

  test(`the claim takes the due saga of a known type, not one of the ${RETIRED} retired ones due earlier, and locks none of them`, async () => {
    const registry = createSagaRegistry({ schema: 'payments', sagas: [toySaga(pool)], claimGuard: tenantNotMoving });
    const claimed = await unitOfWork(pool, { service: 'payments', actor: { kind: 'system', id: 'test' } }, (tx) => claimSagaWork(tx, registry, 'plan-test', 30_000));
    assert.equal(claimed?.id, dueId);
    const { rows } = await pool.query(`select count(*)::int as n from payments.saga_instances where name = 'retired' and locked_by is not null`);
    assert.deepEqual(rows, [{ n: 0 }]);
  });
});
