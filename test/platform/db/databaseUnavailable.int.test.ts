import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { commitStatements, createDatabases, unitOfWork } from '../../../src/platform/db/index.ts';
import { adminQuery } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';
import { startTestPlatform } from '../../support/platform.ts';

// A database that cannot be reached fails a caller with DATABASE_UNAVAILABLE (503, Retry-After, what
// to do), not with the driver's error, which a request answered as 500 INTERNAL. The message names
// the setting the operator checks, never the URL (its host, its password).

/** Checks that `error` is DATABASE_UNAVAILABLE (503, Retry-After: 5) whose message says what to do and nothing of where the database is or how to log in. */
const unavailable = (error: unknown, port: number) => {
  const { code, status, details, message } = error as { code?: string; status?: number; details?: unknown; message: string };
  assert.deepEqual({ code, status, details }, { code: 'DATABASE_UNAVAILABLE', status: 503, details: { retryAfterSeconds: 5 } }, message);
  assert.doesNotMatch(message, new RegExp(`127\\.0\\.0\\.1|${port}|secret-pw|svc_user|ECONN`), message);
  assert.match(message, /retry/);
  assert.match(message, /check that PostgreSQL at DATABASE_URL is up and accepting connections/);
  return true;
};

/** A port of 127.0.0.1 nobody listens on (it refuses connections). */
const closedPort = async (): Promise<number> => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

test('a database that refuses connections: a unit of work and a group-committed unit fail with DATABASE_UNAVAILABLE, naming DATABASE_URL, not its URL', async () => {
  const port = await closedPort();
  const databases = createDatabases({ url: `postgres://svc_user:secret-pw@127.0.0.1:${port}/gone`, poolSize: 2, acquireTimeoutMs: 2000 });
  try {
    const pool = databases.poolFor('platform');
    await within(
      assert.rejects(unitOfWork(pool, { service: 'platform' }, (tx) => tx.query('select 1')), (error) => unavailable(error, port)),
      20_000,
      'the unit of work to fail',
    );
    await within(
      assert.rejects(commitStatements(pool, { service: 'platform' }, [{ text: 'select 1' }]), (error) => unavailable(error, port)),
      20_000,
      'the group-committed unit to fail',
    );
    await assert.rejects(unitOfWork(pool, { service: 'platform' }, (tx) => tx.query('select 1')), /did not accept a connection \(it refused the connection\), so nothing was done/);
  } finally {
    await databases.close();
  }
});

test('the embedded database is named as itself, not as a DATABASE_URL that is not set (before: "check that PostgreSQL at DATABASE_URL is up")', async () => {
  const port = await closedPort();
  const where = 'the embedded database (DATABASE_URL is not set; its log is pg.log in BRIGADE_HOME)';
  const databases = createDatabases({ url: `postgres://postgres@127.0.0.1:${port}/brigade`, mainSetting: where, poolSize: 1, acquireTimeoutMs: 2000 });
  try {
    await within(
      assert.rejects(unitOfWork(databases.poolFor('platform'), { service: 'platform' }, (tx) => tx.query('select 1')), (error) => {
        assert.equal((error as { code?: string }).code, 'DATABASE_UNAVAILABLE');
        assert.ok((error as Error).message.includes(`check that PostgreSQL at ${where} is up`), (error as Error).message);
        return true;
      }),
      20_000,
      'the unit of work to fail',
    );
  } finally {
    await databases.close();
  }
});

test('a database whose host never answers: the new connection that does not open within the acquire timeout is DATABASE_UNAVAILABLE, not DATABASE_BUSY', async () => {
  // Accepts the TCP connection and never says a word, as a host behind a black hole would.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  const databases = createDatabases({ url: `postgres://svc_user:secret-pw@127.0.0.1:${port}/gone`, poolSize: 2, acquireTimeoutMs: 500 });
  try {
    await within(
      assert.rejects(unitOfWork(databases.poolFor('platform'), { service: 'platform' }, (tx) => tx.query('select 1')), (error) => {
        assert.match((error as Error).message, /no connection opened in the time allowed/);
        return unavailable(error, port);
      }),
      20_000,
      'the unit of work to give up',
    );
  } finally {
    await databases.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test('a request while the database refuses connections answers 503 DATABASE_UNAVAILABLE with Retry-After and what to do, and answers again once it accepts them', async () => {
  const t = await startTestPlatform();
  const name = t.db.name;
  try {
    // Nobody may connect, and the connections the platform holds are ended: its next request needs a new one.
    await adminQuery(`alter database "${name}" allow_connections false`);
    await adminQuery('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
    const res = await within(t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' }), 30_000, 'the request to answer');
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = res.json();
    assert.equal(problem.code, 'DATABASE_UNAVAILABLE');
    assert.match(problem.detail, /retry in a moment/);
    assert.match(problem.detail, /check that PostgreSQL at DATABASE_URL is up and accepting connections/);
    assert.ok(!res.body.includes(name) && !res.body.includes('127.0.0.1') && !res.body.includes('postgres://'), res.body);
  } finally {
    await adminQuery(`alter database "${name}" allow_connections true`);
  }
  try {
    assert.equal((await within(t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' }), 30_000, 'the request to answer')).statusCode, 200, 'answers again once the database accepts connections');
  } finally {
    await t.close();
  }
});
