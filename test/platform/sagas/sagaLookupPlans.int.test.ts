import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { advanceSaga, createSagaRegistry, sagaTables, showSaga, type SagaRegistry } from '../../../src/platform/sagas/index.ts';
import { fireDueDeadlinesSql } from '../../../src/platform/sagas/fireDueDeadlines.ts';
import { listSagasSql } from '../../../src/platform/sagas/listSagas.ts';
import { listSagaTenantsSql } from '../../../src/platform/sagas/listSagaTenants.ts';
import { showSagaSql } from '../../../src/platform/sagas/showSaga.ts';
import { selectSagaSql } from '../../../src/platform/sagas/transitionSaga.ts';
import { tenantNotMoving } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';
import { TOY_TABLES, toySaga } from './toySaga.ts';

const describePlan = (nodes: readonly PlanNode[]) =>
  nodes.map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}${n['Index Cond'] ? ` [${n['Index Cond']}]` : ''}`).join(' / ');

/** `relation` is read only through an index scan (plain or bitmap) of `index` whose condition matches `cond`, never scanned whole. */
function assertIndexLookup(nodes: readonly PlanNode[], relation: string, index: string, cond: RegExp): void {
  const plan = describePlan(nodes);
  assert.equal(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === relation).length, 0, `a Seq Scan on ${relation}: ${plan}`);
  const scan = nodes.find((n) => n['Index Name'] === index);
  assert.ok(scan?.['Node Type'] === 'Index Scan' || scan?.['Node Type'] === 'Bitmap Index Scan', `no Index Scan using ${index}: ${plan}`);
  assert.match(scan?.['Index Cond'] ?? '', cond, `the index condition of ${index}: ${plan}`);
}

const SYSTEM = { kind: 'system', id: 'test' } as const;
const table = sagaTables('payments');

describe('saga lookups and the deadline poll use their indexes on tables that were never analysed', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let registry: SagaRegistry;
  const tenants = Array.from({ length: 40 }, () => randomUUID());
  let tenantId: string;
  let sagaId: string;

  before(async () => {
    pool = database.pool(2);
    await pool.query(TOY_TABLES);
    registry = createSagaRegistry({ schema: 'payments', sagas: [toySaga(pool)] });
    // As autovacuum would find them between two of its rounds: rows, no statistics.
    for (const t of ['saga_instances', 'saga_deadlines', 'saga_log']) await pool.query(`alter table payments.${t} set (autovacuum_enabled = false)`);
    await pool.query(
      `insert into payments.saga_instances (tenant_id, id, name, state, status)
       select ($1::uuid[])[1 + g % 40], gen_random_uuid(), 'toy', '{"log": [], "input": {}}', 'running' from generate_series(1, 4000) g`,
      [tenants],
    );
    // An open deadline per saga, all in the future but five.
    await pool.query(
      `insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at)
       select tenant_id, id, 'accept', now() + case when n <= 5 then interval '-1 minute' else n * interval '1 minute' end
         from (select tenant_id, id, row_number() over () as n from payments.saga_instances) s`,
    );
    const { rows } = await pool.query<{ tenant_id: string; id: string }>(`select tenant_id, id from payments.saga_instances offset 2345 limit 1`);
    ({ tenant_id: tenantId, id: sagaId } = rows[0]!);
    const { rows: stats } = await pool.query(
      `select relname, last_analyze, last_autoanalyze from pg_stat_user_tables where schemaname = 'payments' and relname in ('saga_instances', 'saga_deadlines') order by relname`,
    );
    assert.deepEqual(stats.map((s) => [s.relname, s.last_analyze, s.last_autoanalyze]), [['saga_deadlines', null, null], ['saga_instances', null, null]]);
  });

  /** The plan of `text` with `values`, as the service role under Row-Level Security (actor `system`). */
  const planOf = (text: string, values: readonly unknown[], tenant?: string) =>
    unitOfWork(pool, { service: 'payments', ...(tenant === undefined ? {} : { tenantId: tenant }), actor: SYSTEM }, async (tx) => {
      const { rows } = await tx.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) ${text}`, values);
      return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    });
  /** The generic plan of `text` prepared with `types`, as a named statement runs once its plan is cached. */
  const genericPlanOf = async (text: string, types: readonly string[], values: readonly string[], tenant?: string) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('role', 'brigade_payments', true), set_config('brigade.tenant_id', $1, true), set_config('brigade.actor_kind', 'system', true)`, [tenant ?? '']);
      await client.query('set local plan_cache_mode = force_generic_plan');
      await client.query(`prepare saga_plan_test (${types.join(', ')}) as ${text}`);
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        // EXPLAIN EXECUTE takes no bound parameters: the arguments are escaped literals.
        `explain (format json) execute saga_plan_test (${values.map((v, i) => `${pg.escapeLiteral(v)}::${types[i]}`).join(', ')})`,
      );
      return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    } finally {
      await client.query('rollback');
      await client.query('deallocate saga_plan_test').catch(() => undefined);
      client.release();
    }
  };

  test('transitionSaga reads by primary key with the tenant, by saga_instances_id without, in custom and generic plans', async () => {
    const byKey = /tenant_id = .*id = |id = .*tenant_id = /;
    assertIndexLookup(await planOf(selectSagaSql(table('saga_instances'), true), [sagaId, tenantId], tenantId), 'saga_instances', 'saga_instances_pkey', byKey);
    assertIndexLookup(await genericPlanOf(selectSagaSql(table('saga_instances'), true), ['uuid', 'uuid'], [sagaId, tenantId], tenantId), 'saga_instances', 'saga_instances_pkey', byKey);
    assertIndexLookup(await planOf(selectSagaSql(table('saga_instances'), false), [sagaId]), 'saga_instances', 'saga_instances_id', /\(id = /);
    assertIndexLookup(await genericPlanOf(selectSagaSql(table('saga_instances'), false), ['uuid'], [sagaId]), 'saga_instances', 'saga_instances_id', /\(id = /);
    // The form it replaced, `id = $1 and ($2 is null or tenant_id = $2)`: its generic plan cannot make the tenant an index condition.
    const old = `select * from ${table('saga_instances')} where id = $1 and ($2::uuid is null or tenant_id = $2)`;
    const oldPlan = await genericPlanOf(old, ['uuid', 'uuid'], [sagaId, tenantId], tenantId);
    assert.ok(!oldPlan.some((n) => /tenant_id = /.test(n['Index Cond'] ?? '')), describePlan(oldPlan));
  });

  test('showSaga reads the instance the same way, with and without the tenant, and listSagaTenants by saga_instances_id', async () => {
    assertIndexLookup(await planOf(showSagaSql(table, true), [sagaId, tenantId], tenantId), 'saga_instances', 'saga_instances_pkey', /tenant_id = .*id = |id = .*tenant_id = /);
    assertIndexLookup(await planOf(showSagaSql(table, false), [sagaId]), 'saga_instances', 'saga_instances_id', /\(id = /);
    // The tenants of an id (where the CLI looks before it acts) likewise.
    assertIndexLookup(await planOf(listSagaTenantsSql(table('saga_instances')), [sagaId]), 'saga_instances', 'saga_instances_id', /\(id = /);
  });

  test('without saga_instances_id, a read by id alone scans every tenant’s instances (why the index exists)', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('drop index payments.saga_instances_id');
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) ${selectSagaSql(table('saga_instances'), false)}`, [sagaId]);
      const nodes = planNodes(rows[0]!['QUERY PLAN'][0]!.Plan);
      assert.ok(nodes.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'saga_instances'), describePlan(nodes));
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  test('the deadline poll finds the due deadlines through saga_deadlines_due by due time, not by reading every open one', async () => {
    const nodes = await planOf(fireDueDeadlinesSql(table), [100, ['payment']]);
    assertIndexLookup(nodes, 'saga_deadlines', 'saga_deadlines_due', /due_at <= (\$\d|\(InitPlan)/);
    // As payments runs it, with the tenant fence's guard (decision 0008): the same lookup.
    assertIndexLookup(await planOf(fireDueDeadlinesSql(table, tenantNotMoving('d.tenant_id')), [100, ['payment']]), 'saga_deadlines', 'saga_deadlines_due', /due_at <= (\$\d|\(InitPlan)/);
    // The form it replaced compares with the volatile clock_timestamp() in a filter: the index gives only the order.
    const old = await planOf(fireDueDeadlinesSql(table).replace('(select clock_timestamp())', 'clock_timestamp()'), [100, ['payment']]);
    assert.ok(!old.some((n) => /due_at/.test(n['Index Cond'] ?? '')), describePlan(old));
  });

  test('the stuck list (failed, parked, and unfinished ones unchanged for a while) walks saga_instances_unfinished by last change, not the whole table', async () => {
    const nodes = await planOf(listSagasSql(table), [null, 15 * 60_000, 100]);
    const plan = describePlan(nodes);
    assert.equal(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'saga_instances').length, 0, `a Seq Scan on saga_instances: ${plan}`);
    assert.ok(nodes.some((n) => n['Index Name'] === 'saga_instances_unfinished'), `saga_instances_unfinished unused: ${plan}`);
  });

  test('the lookups find the saga: with its tenant, without, and not with another tenant', async () => {
    const read = (options: { tenantId?: string }) => unitOfWork(pool, { service: 'payments', actor: SYSTEM, readOnly: true }, (tx) => showSaga(tx, 'payments', sagaId, options));
    assert.equal((await read({ tenantId }))?.tenantId, tenantId);
    assert.equal((await read({}))?.id, sagaId);
    assert.equal(await read({ tenantId: tenants.find((t) => t !== tenantId)! }), null);
    const advance = (tenant: string | undefined) =>
      unitOfWork(pool, { service: 'payments', actor: SYSTEM }, (tx) => advanceSaga(tx, registry, sagaId, { type: 'poke', data: tenant ?? 'any' }, tenant === undefined ? {} : { tenantId: tenant }));
    await assert.rejects(advance(tenants.find((t) => t !== tenantId)), { code: 'NOT_FOUND' });
    assert.deepEqual([(await advance(tenantId)).instance.version, (await advance(undefined)).instance.version], [2, 3]);
  });
});
