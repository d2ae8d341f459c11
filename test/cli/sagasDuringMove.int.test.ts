import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../src/composition/services.ts';
import { databaseLabel } from '../../src/platform/db/createDatabases.ts';
import { unitOfWork } from '../../src/platform/db/index.ts';
import { createSagaRegistry, defineSaga, startSaga } from '../../src/platform/sagas/index.ts';
import { moveTenant } from '../../src/platform/tenancy/index.ts';
import { runMain } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';

const SYSTEM = { kind: 'system', id: 'test' } as const;
const registry = createSagaRegistry({ schema: 'payments', sagas: [defineSaga({ name: 'probe', initialState: {}, start: () => ({ state: {} }), steps: {}, on: {} })] });

// A person's resume or close is a write of the saga's tenant: it must be fenced against a move of that
// tenant (decision 0008), as every routed transaction is, and land where the tenant lives.
describe('brigade sagas resume while the saga\'s restaurant is being moved', () => {
  const shared = useTestDatabase();
  let target: TestDatabase;
  const env = () => ({ DATABASE_URL: shared.db.url, BRIGADE_SECRET: 'x'.repeat(40) });
  const run = (...args: string[]) => runMain(args, env());

  before(async () => {
    target = await createTestDatabase({ empty: true });
  });
  after(async () => {
    await target?.drop();
  });

  test('waits for the move and resumes the saga in the database the restaurant moved to', async () => {
    const added = await run('tenants', 'add', 'Moving Tasca', '--city', 'Porto');
    assert.equal(added.code, 0, added.stderr);
    const rid = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    const pool = shared.pool(3);
    const id = randomUUID();
    await unitOfWork(pool, { service: 'payments', tenantId: rid, actor: SYSTEM }, (tx) => startSaga(tx, registry, { name: 'probe', id, input: {} }));
    await pool.query(`update payments.saga_instances set status = 'parked', error = 'probe: ask the restaurant' where id = $1`, [id]);

    // The move is held at its last step, its placement, which waits for this SHARE lock: it holds the
    // restaurant's fence, its copy is committed in the target and its deletes are not yet.
    const holder = await pool.connect();
    let move: Promise<unknown> | undefined;
    try {
      await holder.query('begin');
      await holder.query('lock table platform.tenant_placements in share mode');
      move = moveTenant({ tenantId: rid, sourceUrl: shared.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
      move.catch(() => undefined);
      await eventually(
        'the move to wait for its placement',
        async () => (await pool.query<{ n: number }>(`select count(*)::int as n from pg_locks where not granted and relation = 'platform.tenant_placements'::regclass
                 and database = (select oid from pg_database where datname = current_database())`)).rows[0]!.n,
        (n) => n === 1,
      );
      const resume = run('sagas', 'resume', id, '--by', 'ana');
      // Time for a resume that is not fenced to do its work in the shared database (before, it looked
      // there, then waited for the move's delete of the row and found nothing); a fenced one waits for
      // the move whatever this pause.
      await Promise.race([resume, sleep(2000)]);
      await holder.query('commit');
      await move;
      const resumed = await resume;
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`^resumed saga ${id} \\(payments\\) by ana: running, .*\\(database ${databaseLabel(target.url)}\\)$`));
    } finally {
      await holder.query('rollback').catch(() => undefined);
      holder.release();
      await move?.catch(() => undefined);
    }
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ status: string }>('select status from payments.saga_instances where id = $1', [id]);
      assert.deepEqual(rows, [{ status: 'running' }], "the resume is in the restaurant's database");
    } finally {
      await client.end();
    }
    assert.equal((await pool.query('select 1 from payments.saga_instances where id = $1', [id])).rowCount, 0);
  });
});
