import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitStatements, transactionControlStatements } from '../../src/platform/migrations/index.ts';

test('splits at top-level semicolons only', () => {
  const sql = `-- brigade:no-transaction
create index concurrently a on t (x); -- a comment; with a semicolon
/* block; comment */ select 'it''s; fine', "odd;name" from t;
create function f() returns int language sql as $body$ select 1; $body$;
do $$ begin perform 1; end $$
`;
  assert.deepEqual(splitStatements(sql), [
    '-- brigade:no-transaction\ncreate index concurrently a on t (x)',
    `-- a comment; with a semicolon\n/* block; comment */ select 'it''s; fine', "odd;name" from t`,
    'create function f() returns int language sql as $body$ select 1; $body$',
    'do $$ begin perform 1; end $$',
  ]);
});

test('drops statements that are only comments or white space', () => {
  assert.deepEqual(splitStatements('select 1;\n-- trailing comment\n;  \n'), ['select 1']);
});

test('transactionControlStatements: top-level BEGIN, COMMIT, END, ROLLBACK, ABORT and START TRANSACTION, not those inside bodies', () => {
  assert.deepEqual(transactionControlStatements('BEGIN; create table t (x int); commit;'), ['BEGIN', 'commit']);
  assert.deepEqual(transactionControlStatements('-- note\nstart transaction isolation level serializable; /* c */ end; abort; rollback;'), [
    'start transaction isolation level serializable',
    'end',
    'abort',
    'rollback',
  ]);
  assert.deepEqual(
    transactionControlStatements(
      `do $$ begin perform 1; end $$; select 'commit;'; savepoint a; rollback to savepoint a; release a;
       create function f() returns int language sql begin atomic select 1; select 2; end;
       create function g() returns int language sql begin atomic end; -- begin;`,
    ),
    [],
  );
});
