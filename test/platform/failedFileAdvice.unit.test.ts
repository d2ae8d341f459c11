import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failedFileAdvice, failureKind, type FailedFile } from '../../src/platform/migrations/failedFileAdvice.ts';

const pgError = (code: string | undefined, message: string) => Object.assign(new Error(message), code === undefined ? {} : { code });
const failed = (cause: unknown, more: Partial<FailedFile> = {}): FailedFile => ({
  id: 'delivery/0024_x.sql',
  noTransaction: false,
  cause,
  role: 'app',
  setting: 'DATABASE_URL',
  command: 'brigade migrate',
  holders: [],
  finishing: false,
  ...more,
});

test('the kind of failure comes from the SQLSTATE: a privilege, another session in the way, the connection, the server, else the file', () => {
  const kinds = (['42501', '55P03', '57014', '40P01', '40001', '08006', '57P01', '53100', 'XX000', '42601', '42P01', '22012', '23505', 'P0001'] as const).map((code) => [
    code,
    failureKind(pgError(code, 'x')),
  ]);
  assert.deepEqual(Object.fromEntries(kinds), {
    '42501': 'privilege',
    '55P03': 'lock',
    '57014': 'lock',
    '40P01': 'lock',
    '40001': 'lock',
    '08006': 'lost',
    '57P01': 'lost',
    '53100': 'server',
    XX000: 'server',
    '42601': 'file',
    '42P01': 'file',
    '22012': 'file',
    '23505': 'file',
    P0001: 'file',
  });
  assert.equal(failureKind(pgError(undefined, 'Connection terminated unexpectedly')), 'lost');
  assert.equal(failureKind(pgError('ECONNRESET', 'read ECONNRESET')), 'lost');
});

test('a deadlock names the other session and says to run the command again once it has finished', () => {
  const advice = failedFileAdvice(
    failed(pgError('40P01', 'deadlock detected'), { command: 'brigade start', holders: [{ pid: 77, user: 'app', app: 'brigade-serve', state: 'idle in transaction', transactionSeconds: 31 }] }),
  );
  assert.equal(
    advice,
    'Nothing of it was applied. It was chosen to end a deadlock with another session: backend pid 77 (brigade-serve, user app, idle in transaction for 31 s). ' +
      'Once that session has finished (or ended: select pg_terminate_backend(<pid>)), run brigade start again.',
  );
});

test('a no-transaction file cut short by a lock timeout: its earlier statements stay, and an INVALID index is dropped before it runs again; never "fix the file"', () => {
  const advice = failedFileAdvice(failed(pgError('55P03', 'canceling statement due to lock timeout'), { noTransaction: true }));
  assert.match(advice, /^It ran outside a transaction, so the statements before the failing one stay applied, and it is not recorded/);
  assert.match(advice, /drop any INVALID index a CREATE INDEX CONCURRENTLY cut short left, and run brigade migrate again\.$/);
  assert.doesNotMatch(advice, /[Ff]ix the file/);
});

test('a statement_timeout with nobody in the way says to raise it for the migrating role', () => {
  assert.match(failedFileAdvice(failed(pgError('57014', 'canceling statement due to statement timeout'))), /SHOW statement_timeout\), raise it for the migrating role; then run brigade migrate again\.$/);
});

test('a connection lost after the COMMIT was sent may have kept the file: brigade migrate status says', () => {
  const advice = failedFileAdvice(failed(pgError(undefined, 'Connection terminated unexpectedly'), { finishing: true }));
  assert.match(advice, /^The database went away while it ran \(the connection was closed\)\. Its COMMIT had been sent, so it may or may not have been applied and recorded\./);
  assert.match(advice, /brigade migrate status shows what is applied; then run brigade migrate again\.$/);
});

test('a privilege error other than creating roles or schemas names the role, not CREATEROLE; without a setting, "the role brigade migrates as"', () => {
  const advice = failedFileAdvice(failed(pgError('42501', 'must be owner of table couriers'), { setting: undefined }));
  assert.match(advice, /The role brigade migrates as \(app\) may not do what the file does: migrating needs the role that ran the earlier migrations/);
  assert.doesNotMatch(advice, /CREATEROLE|[Ff]ix the file/);
});

test('out of disk is the server\'s trouble, not the file\'s', () => {
  assert.match(failedFileAdvice(failed(pgError('53100', 'could not extend file'))), /for a reason of its own \(SQLSTATE 53100: out of disk or memory, a server fault\), not the file's SQL/);
});
