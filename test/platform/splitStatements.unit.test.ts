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

// A SQL-standard body (BEGIN ATOMIC … END) holds statements of its own: the function is one statement,
// sent whole in a no-transaction file, and its CASE … END does not close it (review finding: the CASE's
// END closed the body, so the body's own END was reported as a COMMIT, and the no-transaction workaround
// sent the function in pieces).
const ATOMIC_WITH_CASE = `create function sign_of(x int) returns text language sql
begin atomic
  select case when x = 0 then 'zero' end;
  /* end; */ select t.end from (select 1 as end) t where $$end;$$ <> ''; -- end; a comment
  select case when x > 0 then 'positive; end' when x < 0 then case when x < -9 then 'very negative' else 'negative' end else "end"."end" end
    from (select 'zero' as "end") as "end";
end`;

test('a BEGIN ATOMIC body is one statement with the function, CASE … END and all', () => {
  assert.deepEqual(splitStatements(`${ATOMIC_WITH_CASE};\nselect 1;\nCREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC insert into t values (1); END;\ncommit;`), [
    ATOMIC_WITH_CASE,
    'select 1',
    'CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC insert into t values (1); END',
    'commit',
  ]);
  assert.deepEqual(splitStatements('create function g() returns int language sql begin atomic end; select 2'), [
    'create function g() returns int language sql begin atomic end',
    'select 2',
  ]);
});

test('transactionControlStatements: the END of a BEGIN ATOMIC body with a CASE in it is not a COMMIT; a COMMIT after it is', () => {
  assert.deepEqual(transactionControlStatements('create function f(x int) returns int language sql begin atomic select case when x > 0 then 1 else 0 end; end;'), []);
  assert.deepEqual(transactionControlStatements(`${ATOMIC_WITH_CASE};`), []);
  assert.deepEqual(transactionControlStatements(`${ATOMIC_WITH_CASE};\ncommit;`), ['commit']);
});

test("a backslash escapes a quote in an E'…' string (and only there)", () => {
  assert.deepEqual(splitStatements(String.raw`select E'it\'s; commit; fine'; select e'\\'; select 2`), [String.raw`select E'it\'s; commit; fine'`, String.raw`select e'\\'`, 'select 2']);
  assert.deepEqual(transactionControlStatements(String.raw`select E'it\'s; commit; fine';`), []);
  // In a plain string a backslash is a backslash, and so it is in a typed literal whose type ends in e (name'…').
  assert.deepEqual(splitStatements(String.raw`select 'a\'; commit; select name'b\', e'c''d\'';`), [String.raw`select 'a\'`, 'commit', String.raw`select name'b\', e'c''d\''`]);
});
