import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabases, type ReplicaReads } from '../../../src/platform/db/index.ts';
import { createTenantRouter } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { silentProxy } from '../../support/silentProxy.ts';

// A write whose connection is lost while it commits may have been saved, and its error tells the
// client to read it back before doing it again (DATABASE_UNAVAILABLE, phase `commit`). That read must
// see the write if it was saved, so the router notes the actor as having written, as it does after a
// write that succeeded (decision 0082); a write lost before its commit (phase `work`) saved nothing.
// A unit of work's connection is ended from another session while its statement runs (the server
// answers: nothing was saved); a group-committed batch's is cut under it by a proxy, as a network
// failure or a failover would cut it (no answer: the batch may have committed).

const database = useTestDatabase();

test('a write lost while committing notes its actor for read-your-writes; one lost before its commit, or refused, does not', async () => {
  await database.ready;
  const databases = createDatabases({ url: database.db.url, poolSize: 2, applicationName: 'primary' });
  database.defer(() => databases.close());
  const admin = database.pool(1);
  const primary = databases.poolFor('platform');
  const wrote: string[] = [];
  /** Replica reads whose standby is `pool` itself, noting who wrote. */
  const replicaReadsOn = (pool: typeof primary): ReplicaReads => ({
    primary: pool,
    replica: pool,
    wrote: (actor) => {
      wrote.push(actor);
    },
    poolFor: async () => pool,
    failed: () => undefined,
  });
  const router = createTenantRouter({ databases, replicaReads: replicaReadsOn(primary) });
  const write = { service: 'platform', actor: { kind: 'staff', id: 'writer' } } as const;

  /** Runs `work`, ends its connection (`end`, given its backend) once `pg_sleep(30)` runs, and returns its error. */
  const lose = async (work: () => Promise<unknown>, end: (pid: number) => Promise<unknown>) => {
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
        await end(rows[0]!.pid);
        return failed;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // It failed before it was ended: its own error, not the loss this test is about.
    return failed;
  };

  const terminate = (pid: number) => admin.query('select pg_terminate_backend($1)', [pid]);
  const unit = await lose(() => router.unitOfWork(write, (tx) => tx.query('select pg_sleep(30)')), terminate);
  assert.deepEqual([unit.code, unit.phase], ['DATABASE_UNAVAILABLE', 'work'], unit.message);
  await assert.rejects(router.unitOfWork(write, (tx) => tx.query('select 1/0')), { code: '22012' });
  assert.deepEqual(wrote, [], 'a write that saved nothing notes nobody');
  await router.commitStatements(write, [{ text: 'select 1' }]);
  assert.deepEqual(wrote, ['staff:writer'], 'a write that committed notes its actor');

  // Group-committed: the implicit transaction commits at the batch's Sync, so a batch whose connection
  // is cut with no answer may have committed.
  wrote.length = 0;
  const proxy = await silentProxy(database.db.url);
  const proxied = createDatabases({ url: proxy.url, poolSize: 2, applicationName: 'proxied' });
  database.defer(() => proxied.close());
  const proxiedRouter = createTenantRouter({ databases: proxied, replicaReads: replicaReadsOn(proxied.poolFor('platform')) });
  const batch = await lose(() => proxiedRouter.commitStatements(write, [{ text: 'select pg_sleep(30)' }]), async (pid) => {
    await proxy.close();
    await terminate(pid);
  });
  assert.deepEqual([batch.code, batch.phase], ['DATABASE_UNAVAILABLE', 'commit'], batch.message);
  assert.deepEqual(wrote, ['staff:writer'], 'a write that may have committed notes its actor');
});
