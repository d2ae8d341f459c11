import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutPoolAdvice } from '../../src/cli/cutPoolAdvice.ts';

test('a cut pool is named with its database, its connections and their backends, and the lock holder to look at', () => {
  assert.equal(
    cutPoolAdvice({ label: 'main', address: 'db:5432/brigade', connections: 2, backends: [{ pid: 11, blockedBy: [7], cancelled: true }, { pid: 12, blockedBy: [7, 8], cancelled: false }] }),
    'shutdown: the database pool main (db:5432/brigade) still had 2 connections in use 5 s after it began to close: cut (backend 11 cancelled, backend 12 not cancelled (gone already), sockets closed). ' +
      'It waited on a lock held by backends 7, 8: see those sessions with select pid, application_name, client_addr, state, xact_start, query from pg_stat_activity where pid in (7, 8); ' +
      'end one (select pg_terminate_backend(<pid>)) if it should not be open, or let it finish before stopping brigade next time.',
  );
});

test('a cut with no lock named says where else to look; one whose cancel failed says what may still run', () => {
  const line = cutPoolAdvice({ label: 'menu', address: '', connections: 1, backends: [{ pid: 5, blockedBy: [], cancelled: false }], cancelFailure: 'timeout expired' });
  assert.match(line, /^shutdown: the database pool menu still had 1 connection in use 5 s after it began to close: cut \(sockets closed; their backends could not be cancelled \(timeout expired\), so a statement still waiting may run once its lock goes/);
  assert.match(line, /PostgreSQL named no lock it waited on: .*idle in transaction/);
});
