import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createDatabases, endPools } from '../../../src/platform/db/index.ts';
import { databaseAddress } from '../../../src/platform/db/createDatabases.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually, within } from '../../support/eventually.ts';

const database = useTestDatabase();

/** Sessions of `applicationName` on the test database. */
async function sessionsOf(applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1', [applicationName]);
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

// Before, a pool's end waited for every connection in use: one behind a row lock held it (and the
// process that ended it) for as long as the other session kept the lock.
test('a connection in use behind a row lock is cut after the deadline, while the lock is still held: its backend cancelled, its socket closed, the pool ended', async () => {
  await database.ready;
  const locker = new pg.Client({ connectionString: database.db.url, application_name: 'end-pools-locker' });
  await locker.connect();
  const pool = new pg.Pool({ connectionString: database.db.url, max: 2, application_name: 'end-pools-cut' });
  pool.on('error', () => undefined);
  try {
    await locker.query('create table public.end_pools_row (id int primary key, n int not null)');
    await locker.query('insert into public.end_pools_row values (1, 0)');
    await locker.query('begin');
    await locker.query('select * from public.end_pools_row where id = 1 for update');
    const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    // One connection in use behind the lock, one idle.
    const idle = await pool.connect();
    idle.release();
    const client = await pool.connect();
    client.on('error', () => undefined);
    // Released with its failure, as a unit of work does: pg-pool drops the broken client.
    const blocked = client.query('update public.end_pools_row set n = n + 1 where id = 1').then(
      () => null,
      (error: unknown) => {
        client.release(error as Error);
        return error;
      },
    );
    const blockedPid = (client as unknown as { processID: number }).processID;
    await eventually(
      'the update to wait for the lock',
      async () => (await locker.query<{ n: number }>(`select count(*)::int as n from pg_locks where pid = $1 and not granted`, [blockedPid])).rows[0]?.n ?? 0,
      (n) => n > 0,
      30_000,
    );

    const cut = await within(endPools([{ label: 'main', pool }], { deadlineMs: 300 }), 30_000, 'the pools to end');

    assert.deepEqual(cut, [{ label: 'main', address: databaseAddress(database.db.url), connections: 1, backends: [{ pid: blockedPid, blockedBy: [lockerPid], cancelled: true }] }]);
    // The update failed (it will not run once the lock goes), and the lock is still held: the cut did not wait for it.
    assert.ok((await blocked) instanceof Error, 'the blocked statement failed');
    assert.equal((await locker.query<{ n: number }>('select n from public.end_pools_row where id = 1')).rows[0]?.n, 0);
    assert.equal(pool.ended, true);
    await eventually('the cut sessions to be gone', () => sessionsOf('end-pools-cut'), (n) => n === 0, 30_000);
    await locker.query('commit');
    // Nothing of the cancelled update was left to run once the lock went.
    assert.equal((await locker.query<{ n: number }>('select n from public.end_pools_row where id = 1')).rows[0]?.n, 0);
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.query('drop table if exists public.end_pools_row').catch(() => undefined);
    await locker.end();
    if (!pool.ended && !pool.ending) await pool.end();
  }
});

test('an idle pool ends at once, and one whose connection comes back before the deadline ends when it does: nothing cut', async () => {
  await database.ready;
  const idle = new pg.Pool({ connectionString: database.db.url, max: 2, application_name: 'end-pools-idle' });
  const busy = new pg.Pool({ connectionString: database.db.url, max: 2, application_name: 'end-pools-busy' });
  const warm = await Promise.all([idle.connect(), idle.connect()]);
  for (const c of warm) c.release();
  const held = await busy.connect();
  // A deadline no test waits for: the pools end on their own or the test times out.
  const ending = endPools(
    [
      { label: 'idle', pool: idle },
      { label: 'busy', pool: busy },
    ],
    { deadlineMs: 600_000 },
  );
  await eventually('the idle pool to end', async () => idle.ended, (ended) => ended, 30_000);
  assert.equal(busy.ended, false, 'the pool with a connection in use waits for it');
  await held.query('select 1');
  held.release();
  assert.deepEqual(await within(ending, 30_000, 'the pools to end'), []);
  assert.equal(busy.ended, true);
  assert.equal(await sessionsOf('end-pools-idle'), 0);
  await eventually('the busy pool sessions to be gone', () => sessionsOf('end-pools-busy'), (n) => n === 0, 30_000);
});

test("Databases.close ends its pools through endPools: a connection behind a lock is cut and named by the pool's label", async () => {
  await database.ready;
  const locker = new pg.Client({ connectionString: database.db.url });
  await locker.connect();
  const databases = createDatabases({ url: database.db.url, poolSize: 2, applicationName: 'end-pools-registry' });
  try {
    await locker.query('begin');
    await locker.query('lock table brigade_bus.dead_letters in access exclusive mode');
    const reading = databases
      .poolFor('platform')
      .query('select count(*) from brigade_bus.dead_letters')
      .catch((error: unknown) => error);
    await eventually(
      'the read to wait for the lock',
      async () => (await locker.query<{ n: number }>(`select count(*)::int as n from pg_locks where relation = 'brigade_bus.dead_letters'::regclass and not granted`)).rows[0]?.n ?? 0,
      (n) => n > 0,
      30_000,
    );
    const cut = await within(databases.close({ deadlineMs: 200 }), 30_000, 'the pools to close');
    assert.deepEqual(
      cut.map((c) => [c.label, c.connections, c.backends.every((b) => b.cancelled)]),
      [['main', 1, true]],
    );
    assert.ok((await reading) instanceof Error);
    await eventually('the cut sessions to be gone', () => sessionsOf('end-pools-registry'), (n) => n === 0, 30_000);
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.end();
  }
});
