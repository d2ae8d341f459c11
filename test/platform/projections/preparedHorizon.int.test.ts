import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../../src/platform/db/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { describeHorizonHolder, HorizonStalledError } from '../../../src/platform/projections/index.ts';
import { readOldestTransaction } from '../../../src/platform/projections/readOldestTransaction.ts';
import { waitForHorizon } from '../../../src/platform/projections/waitForHorizon.ts';

// Found by a review of the event store: a prepared (two-phase) transaction holds the horizon of every
// database of the cluster with no session at all, so pg_stat_activity does not show it: status said
// the holder "has ended since" and a rebuild gave up advising pg_terminate_backend with no pid to give.
// A server of the test's own: the machine's has max_prepared_transactions = 0.
test('a prepared transaction holding the horizon is named by its gid and database, with COMMIT/ROLLBACK PREPARED as the way out', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-prepared-'));
  await fs.chmod(root, 0o755);
  const server = await startEmbeddedPostgres({ dir: path.join(root, 'pg'), postgresFlags: ['-c', 'fsync=off', '-c', 'max_prepared_transactions=2'] });
  const preparer = new pg.Client({ connectionString: server.url });
  const reader = new pg.Client({ connectionString: server.url });
  try {
    await Promise.all([preparer.connect(), reader.connect()]);
    await preparer.query('begin');
    await preparer.query('select pg_current_xact_id()');
    await preparer.query(`prepare transaction 'brigade-test-2pc'`);
    await preparer.end();
    const fence = BigInt((await reader.query<{ next: string }>('select (pg_current_xact_id()::text::bigint + 1)::text as next')).rows[0]!.next);

    const holder = await readOldestTransaction(reader);
    assert.ok(holder !== null && 'gid' in holder, JSON.stringify(holder));
    assert.deepEqual([holder.gid, holder.database], ['brigade-test-2pc', 'postgres']);
    assert.match(describeHorizonHolder(holder), /^prepared transaction 'brigade-test-2pc' of database postgres \(prepared \d+ s ago, by postgres; no session holds it\)/);
    await assert.rejects(waitForHorizon(reader, fence, { timeoutMs: 50 }), (e: unknown) => {
      assert.ok(e instanceof HorizonStalledError);
      assert.match(e.message, /prepared transaction 'brigade-test-2pc'.*COMMIT PREPARED 'brigade-test-2pc' or ROLLBACK PREPARED 'brigade-test-2pc' in database postgres/);
      assert.doesNotMatch(e.message, /pg_terminate_backend/);
      return true;
    });
    await reader.query(`rollback prepared 'brigade-test-2pc'`);
    await waitForHorizon(reader, fence, { timeoutMs: 5000 });
  } finally {
    await reader.query(`rollback prepared 'brigade-test-2pc'`).catch(() => undefined);
    await reader.end().catch(() => undefined);
    await server.stop();
    await fs.rm(root, { recursive: true, force: true });
  }
});

// Found by the CLI review: a rebuild waiting on a session of another database of the server (another
// application's, or a restaurant's dedicated database) advised pg_terminate_backend(pid) without saying
// whose it was.
test("a session of another database holding the horizon is named with its database, and the way out says it is that database's", async () => {
  const here = await createTestDatabase({ empty: true });
  const there = await createTestDatabase({ empty: true });
  const holder = new pg.Client({ connectionString: there.url });
  const reader = new pg.Client({ connectionString: here.url });
  try {
    await Promise.all([holder.connect(), reader.connect()]);
    await holder.query('begin');
    await holder.query('select pg_current_xact_id()');
    const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const thereName = there.name;
    const fence = BigInt((await reader.query<{ next: string }>('select (pg_current_xact_id()::text::bigint + 1)::text as next')).rows[0]!.next);
    // The oldest transaction of the server may be another test's: wait until it is ours.
    let oldest = await readOldestTransaction(reader);
    for (let i = 0; i < 200 && !(oldest !== null && 'pid' in oldest && oldest.pid === pid); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      oldest = await readOldestTransaction(reader);
    }
    assert.ok(oldest !== null && 'pid' in oldest && oldest.pid === pid, JSON.stringify(oldest));
    assert.equal(oldest.otherDatabase, thereName);
    assert.match(describeHorizonHolder(oldest), new RegExp(`^the transaction of backend pid ${pid} of database ${thereName} \\(another database of this server\\) \\(open \\d+ s, `));
    await assert.rejects(waitForHorizon(reader, fence, { timeoutMs: 50 }), (e: unknown) => {
      assert.ok(e instanceof HorizonStalledError);
      assert.match(e.message, new RegExp(`pg_terminate_backend\\(${pid}\\) \\(it is database ${thereName}'s: ask whoever runs it first\\)`));
      return true;
    });
  } finally {
    await holder.end().catch(() => undefined);
    await reader.end().catch(() => undefined);
    await here.drop();
    await there.drop();
  }
});
