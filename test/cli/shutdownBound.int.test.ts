import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { brigadeWaitsOnLock, spawnCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { eventually, within } from '../support/eventually.ts';

const database = useTestDatabase();

// Found in a session: `brigade serve` exited 119 s after SIGTERM, when another session let go of the
// row lock a request waited on, and then said "Stopped cleanly.". Ending the pools waited for every
// connection in use, with no bound.
test('SIGTERM to brigade serve while a request waits on a row lock another session holds: serve exits 1 with the lock still held, names the pool and connection it cut and the lock holder, and does not say "Stopped cleanly."', async () => {
  await database.ready;
  const serve = spawnCli(['serve'], { DATABASE_URL: database.db.url, PORT: '0', BRIGADE_SECRET: 'x'.repeat(40) });
  const locker = new pg.Client({ connectionString: database.db.url, application_name: 'shutdown-bound-locker' });
  try {
    await within(
      Promise.race([eventually('brigade serve to come up', async () => serve.output(), (out) => out.includes('Press Ctrl+C')), serve.exited.then(() => assert.fail(`serve exited:\n${serve.output()}`))]),
      120_000,
      'brigade serve to come up',
    );
    const base = /API\s+(http:\/\/\S+)\/v1/.exec(serve.output())?.[1];
    assert.ok(base !== undefined, serve.output());
    const signedUp = await fetch(`${base}/v1/customers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Rosa Lock', email: 'rosa.lock@example.com', address: 'Rua do Bloqueio 1, Porto' }),
    });
    assert.equal(signedUp.status, 201, await signedUp.clone().text());
    const { id, token } = (await signedUp.json()) as { id: string; token: string };

    // Another session holds the customer's row; the password change waits for it in serve's pool.
    await locker.connect();
    await locker.query('begin');
    await locker.query('select id from platform.customers where id = $1 for update', [id]);
    const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const change = fetch(`${base}/v1/customers/me/password`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ password: 'a password long enough' }),
    }).then(
      (answer) => answer.status,
      () => 'cut' as const,
    );
    await brigadeWaitsOnLock(locker, 'the password change to wait for the row lock');

    serve.child.kill('SIGTERM');
    // A bound for the wait, not a measurement: before, serve waited for the lock, which this test holds
    // until serve has exited, so it failed here.
    const exited = await within(serve.exited, 120_000, 'brigade serve to exit while the lock is still held');
    // The row is still locked: serve did not wait for the lock to go.
    const probe = new pg.Client({ connectionString: database.db.url });
    await probe.connect();
    try {
      await assert.rejects(probe.query('select id from platform.customers where id = $1 for update nowait', [id]), (e: unknown) => (e as { code?: string }).code === '55P03');
    } finally {
      await probe.end();
    }

    assert.equal(exited.code, 1, serve.output());
    assert.match(exited.stdout, /Shutting down \(SIGTERM\)/);
    assert.doesNotMatch(exited.stdout, /Stopped cleanly/, serve.output());
    assert.match(exited.stdout, /Stopped \(exit 1: see the errors above\)\./);
    assert.match(
      exited.stderr,
      new RegExp(`^shutdown: the database pool main \\(\\S+\\) still had 1 connection in use 5 s after it began to close: cut \\(backend \\d+ cancelled, sockets closed\\)\\. It waited on a lock held by backend ${lockerPid}: `, 'm'),
      serve.output(),
    );
    assert.match(exited.stderr, new RegExp(`pg_stat_activity where pid = ${lockerPid}; end it \\(select pg_terminate_backend\\(${lockerPid}\\)\\)`), exited.stderr);
    assert.notEqual(await change, 200, 'the request did not succeed');

    await locker.query('commit');
    // The cancelled change did not run once the lock went: the password is still unset.
    const row = await locker.query<{ set: boolean }>('select password_hash is not null as set from platform.customers where id = $1', [id]);
    assert.equal(row.rows[0]?.set, false);
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.end().catch(() => undefined);
    if (!serve.gone()) serve.child.kill('SIGKILL');
    await serve.exited.catch(() => undefined);
  }
});
