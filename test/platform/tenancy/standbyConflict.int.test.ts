import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabases, type ReplicaReads, type Tx } from '../../../src/platform/db/index.ts';
import { createTenantRouter } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';

// A read the routing sent to the standby and that recovery cancelled there runs again on the primary
// (decision 0082). A real recovery conflict cannot be forced on demand (a buffer-pin deadlock with
// recovery needs a cursor's pin, a lock wait and a VACUUM replayed at the right moment), so the
// "standby" here is a pool of its own on the test database, named by its application_name, where the
// read raises PostgreSQL's own error with a recovery conflict's SQLSTATE, message and detail. The
// routing sees the error as the driver hands it over from a real standby.

const database = useTestDatabase();
const STANDBY = 'fake-standby';

/** A read that recovery cancels on the "standby" with `sqlstate`, and that answers where it ran elsewhere. */
const readCancelledOnStandby = (sqlstate: '40001' | '40P01') => async (tx: Tx) => {
  // DO takes no parameters; the SQLSTATE is one of two constants.
  await tx.query(`do $$ begin
      if current_setting('application_name') = '${STANDBY}' then
        raise exception using errcode = '${sqlstate}', message = 'canceling statement due to conflict with recovery',
          detail = ${sqlstate === '40P01' ? `'User transaction caused buffer deadlock with recovery.'` : `'User query might have needed to see row versions that must be removed.'`};
      end if;
    end $$`);
  return (await tx.query<{ ran: string }>(`select current_setting('application_name') as ran`)).rows[0]!.ran;
};

test('a read that recovery cancels on the standby (40001, or 40P01 for a buffer deadlock with recovery) is answered by the primary, and the standby is not left alone for it', async () => {
  await database.ready;
  const databases = createDatabases({ url: database.db.url, poolSize: 2, applicationName: 'primary' });
  database.defer(() => databases.close());
  const standby = database.pool({ max: 1, application_name: STANDBY });
  const failed: unknown[] = [];
  const routed: string[] = [];
  const primary = databases.poolFor('platform');
  // The routing's choice is forced: every replica-eligible read goes to the standby.
  const replicaReads: ReplicaReads = {
    primary,
    replica: standby,
    wrote: () => undefined,
    poolFor: async () => {
      routed.push('replica');
      return standby;
    },
    failed: (error) => {
      failed.push(error);
    },
  };
  const router = createTenantRouter({ databases, replicaReads });
  const read = { service: 'platform', readOnly: true, replicaOk: true } as const;

  for (const sqlstate of ['40001', '40P01'] as const) {
    routed.length = 0;
    assert.equal(await router.unitOfWork(read, readCancelledOnStandby(sqlstate)), 'primary', `${sqlstate}: answered by the primary`);
    assert.deepEqual([routed, failed.length], [['replica'], 0], `${sqlstate}: tried on the standby first, which stays in use`);
  }

  // The same error from the primary itself is the read's own: it is not run again.
  await assert.rejects(
    router.unitOfWork({ service: 'platform', readOnly: true }, async (tx) => {
      await tx.query(`do $$ begin raise exception using errcode = '40P01', message = 'deadlock detected'; end $$`);
    }),
    { code: '40P01' },
  );
});

test('a read sent to a standby whose every connection is in use is answered by the primary once the wait gives up (DATABASE_BUSY), and the standby is not left alone for it', async () => {
  await database.ready;
  const databases = createDatabases({ url: database.db.url, poolSize: 2, applicationName: 'primary' });
  database.defer(() => databases.close());
  const standby = database.pool({ max: 1, application_name: STANDBY, connectionTimeoutMillis: 2000 });
  const failed: unknown[] = [];
  const replicaReads: ReplicaReads = {
    primary: databases.poolFor('platform'),
    replica: standby,
    wrote: () => undefined,
    poolFor: async () => standby,
    failed: (error) => {
      failed.push(error);
    },
  };
  const router = createTenantRouter({ databases, replicaReads });
  const held = await standby.connect();
  try {
    const ran = await router.unitOfWork({ service: 'platform', readOnly: true, replicaOk: true }, async (tx) => (await tx.query<{ ran: string }>(`select current_setting('application_name') as ran`)).rows[0]!.ran);
    assert.deepEqual([ran, failed.length], ['primary', 0]);
  } finally {
    held.release();
  }
});
