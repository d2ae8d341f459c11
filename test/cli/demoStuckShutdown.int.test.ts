import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { brigadeWaitsOnLock, spawnCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { eventually, within } from '../support/eventually.ts';

const database = useTestDatabase();

// Found by a review of the demo: with a worker stuck behind a lock another session held, Ctrl+C of
// `brigade demo` waited in silence until the lock went (75 s in the probe): the workers' stop was
// raced against 10 s without a word, and closing the platform waited for every connection in use.
test('Ctrl+C of brigade demo while its workers wait on a lock another session holds: it exits with the lock still held and says which connection it cut and who held the lock', async () => {
  await database.ready;
  const demo = spawnCli(['demo', '--orders', '6', '--restaurants', '1', '--couriers', '2', '--rate', '2'], { DATABASE_URL: database.db.url, PORT: '0', PROVIDER_PORT: '0', BRIGADE_SECRET: 'x'.repeat(40) });
  const locker = new pg.Client({ connectionString: database.db.url, application_name: 'demo-stuck-locker' });
  try {
    await within(
      Promise.race([eventually('the rush under way', async () => demo.output(), (out) => out.includes('couriers are available in'), 120_000), demo.exited.then(() => assert.fail(`demo exited:\n${demo.output()}`))]),
      125_000,
      'the rush to start',
    );
    // The ordering service's outbox relay (and its producers) now wait for this lock.
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table ordering.outbox in access exclusive mode');
    await brigadeWaitsOnLock(locker, 'a demo connection to wait for the lock');
    demo.child.kill('SIGINT');
    // A bound for the wait, not a measurement: before, the demo waited for the lock, which this test
    // holds until the demo has exited.
    const exited = await within(demo.exited, 120_000, 'brigade demo to exit while the lock is still held');
    assert.notEqual(exited.code, 0, exited.stdout + exited.stderr);
    const holder = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    // The connection waiting on the lock (a request's or a worker's; a worker that does not stop in 10 s is named too).
    // One connection or more (the relay's and a request's), waiting on the holder (and on each other in its queue).
    assert.match(exited.stderr, new RegExp(`shutdown: the database pool main .* cut \\(backends? [\\d, ]+ cancelled, sockets closed\\)\\. It waited on a lock held by backends? [\\d, ]*\\b${holder}\\b`), exited.stderr);
  } finally {
    await locker.end().catch(() => undefined);
    if (!demo.gone()) demo.child.kill('SIGKILL');
  }
});
