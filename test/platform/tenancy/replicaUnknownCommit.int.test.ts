import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabases, type ReplicaReads } from '../../../src/platform/db/index.ts';
import { createTenantRouter } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';

// A write whose connection is lost while it commits may have been saved, and its error tells the
// client to read it back before doing it again (DATABASE_UNAVAILABLE, phase `commit`). That read must
// see the write if it was saved, so the router notes the actor as having written, as it does after a
// write that succeeded (decision 0082); a write lost before its commit (phase `work`) saved nothing.
// The connection is ended from another session while the write's statement runs, as a server restart
// or a failover would end it.

const database = useTestDatabase();

test('a write lost while committing notes its actor for read-your-writes; one lost before its commit, or refused, does not', async () => {
  await database.ready;
  const databases = createDatabases({ url: database.db.url, poolSize: 2, applicationName: 'primary' });
  database.defer(() => databases.close());
  const admin = database.pool(1);
  const primary = databases.poolFor('platform');
  const wrote: string[] = [];
  const replicaReads: ReplicaReads = {
    primary,
    replica: primary,
    wrote: (actor) => {
      wrote.push(actor);
    },
    poolFor: async () => primary,
    failed: () => undefined,
  };
  const router = createTenantRouter({ databases, replicaReads });
  const write = { service: 'platform', actor: { kind: 'staff', id: 'writer' } } as const;

  /** Runs `work`, ends its connection once `pg_sleep(30)` runs, and returns its error. */
  const lose = async (work: () => Promise<unknown>) => {
    let settled = false;
    const failed = work().then(
      () => assert.fail('the write must fail'),
      (error: unknown) => error as { code?: string; phase?: string; message: string },
    );
    void failed.finally(() => (settled = true)).catch(() => undefined);
    while (!settled) {
      const { rows } = await admin.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query like '%pg_sleep(30)%'`,
      );
      if (rows.length === 1) {
        await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
        return failed;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // It failed before it was ended: its own error, not the loss this test is about.
    return failed;
  };

  const unit = await lose(() => router.unitOfWork(write, (tx) => tx.query('select pg_sleep(30)')));
  assert.deepEqual([unit.code, unit.phase], ['DATABASE_UNAVAILABLE', 'work'], unit.message);
  await assert.rejects(router.unitOfWork(write, (tx) => tx.query('select 1/0')), { code: '22012' });
  assert.deepEqual(wrote, [], 'a write that saved nothing notes nobody');
  await router.commitStatements(write, [{ text: 'select 1' }]);
  assert.deepEqual(wrote, ['staff:writer'], 'a write that committed notes its actor');

  // Group-committed: the implicit transaction commits at the batch's Sync, so a lost batch may have
  // committed. Last: the group committer puts a connection ended with a FATAL back in the pool, and
  // a unit that took it at once would fail on it.
  wrote.length = 0;
  const batch = await lose(() => router.commitStatements(write, [{ text: 'select pg_sleep(30)' }]));
  assert.deepEqual([batch.code, batch.phase], ['DATABASE_UNAVAILABLE', 'commit'], batch.message);
  assert.deepEqual(wrote, ['staff:writer'], 'a write that may have committed notes its actor');
});
