import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitStatements } from '../../src/platform/migrations/index.ts';

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
