import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createDatabases } from '../../../src/platform/db/createDatabases.ts';
import { asDatabaseUnavailable, databaseUnavailableReason, DatabaseUnavailableError } from '../../../src/platform/db/databaseUnavailable.ts';

/** An error as pg or Node gives it: a message and a code. */
const failure = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code });

test('what says the database cannot be used: socket and name errors, connection exceptions (08), shutdown and start-up (57P01-57P03), too many connections (53300), connections turned off (55000 at start-up), pg-pool\'s connect timeout and a lost connection', () => {
  const unavailable = [
    failure('connect ECONNREFUSED 10.0.0.7:5432', 'ECONNREFUSED'),
    failure('read ECONNRESET', 'ECONNRESET'),
    failure('getaddrinfo ENOTFOUND db.internal', 'ENOTFOUND'),
    failure('connect EHOSTUNREACH 10.0.0.7:5432', 'EHOSTUNREACH'),
    failure('connection failure', '08006'),
    failure('terminating connection due to administrator command', '57P01'),
    failure('terminating connection due to crash of another server process', '57P02'),
    failure('the database system is starting up', '57P03'),
    failure('sorry, too many clients already', '53300'),
    failure('Connection terminated due to connection timeout'),
    failure('Connection terminated unexpectedly'),
  ];
  for (const error of unavailable) assert.notEqual(databaseUnavailableReason(error), undefined, error.message);
  // A database whose connections are turned off (ALLOW_CONNECTIONS false) refuses with 55000, which only at start-up says so.
  const turnedOff = failure('database "x" is not currently accepting connections', '55000');
  assert.deepEqual([databaseUnavailableReason(turnedOff, 'connect'), databaseUnavailableReason(turnedOff, 'work')], ['the database does not accept connections now', undefined]);
  // A statement refused, a busy pool (DATABASE_BUSY's), a query timeout on a live connection, a login refused: not this.
  const others = [
    failure('duplicate key value violates unique constraint', '23505'),
    failure('canceling statement due to statement timeout', '57014'),
    failure('timeout exceeded when trying to connect'),
    failure('Query read timeout'),
    failure('password authentication failed for user "app"', '28P01'),
    failure('database "gone" does not exist', '3D000'),
  ];
  for (const error of others) assert.equal(databaseUnavailableReason(error), undefined, error.message);
});

test('DatabaseUnavailableError: 503 with Retry-After, retryable, names the setting of the pool\'s database and says whether anything may have been written', async () => {
  const databases = createDatabases({ url: 'postgres://app:pw@main.example/brigade', serviceUrls: { menu: 'postgres://app:pw@menu.example/menu' }, poolSize: 1 });
  try {
    const refused = failure('connect ECONNREFUSED 10.0.0.7:5432', 'ECONNREFUSED');
    const main = asDatabaseUnavailable(refused, databases.poolFor('ordering'), 'connect') as DatabaseUnavailableError;
    assert.ok(main instanceof DatabaseUnavailableError);
    assert.deepEqual([main.code, main.status, main.details, main.retryable, main.cause], ['DATABASE_UNAVAILABLE', 503, { retryAfterSeconds: 5 }, true, refused]);
    assert.match(main.message, /so nothing was done: retry in a moment\. .*PostgreSQL at DATABASE_URL is up/);
    const menu = asDatabaseUnavailable(refused, databases.poolFor('menu'), 'work') as Error;
    assert.match(menu.message, /so nothing was written: retry in a moment\. .*PostgreSQL at MENU_DATABASE_URL is up/);
    const commit = asDatabaseUnavailable(failure('Connection terminated unexpectedly'), databases.poolFor('menu'), 'commit') as Error;
    assert.match(commit.message, /may or may not have been saved/);
    for (const e of [main, menu, commit]) assert.doesNotMatch(e.message, /10\.0\.0\.7|example|pw|ECONN/);
    // Any other error passes unchanged.
    const refusedStatement = failure('duplicate key', '23505');
    assert.equal(asDatabaseUnavailable(refusedStatement, databases.poolFor('menu'), 'work'), refusedStatement);
  } finally {
    await databases.close();
  }
  // A pool nobody named: the configured databases' settings.
  const pool = new pg.Pool();
  assert.match((asDatabaseUnavailable(failure('x', '57P03'), pool, 'connect') as Error).message, /PostgreSQL at DATABASE_URL \(or the service's own <SERVICE>_DATABASE_URL\)/);
  await pool.end();
});
