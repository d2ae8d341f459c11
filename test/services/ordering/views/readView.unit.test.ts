import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../../../src/platform/errors/index.ts';
import { viewSql } from '../../../../src/services/ordering/views/readView.ts';

const board = { schema: 'ordering', table: 'board_view' };

test('viewSql binds the limit after the query\'s values and refuses one that is not a whole number from 0 (before: `limit Infinity` was pasted into the SQL, a 500)', () => {
  const statement = viewSql(board, { where: 't.tenant_id = $1', values: ['r'], orderBy: 't.placed_at', limit: 20 });
  assert.match(statement.text, / limit \$2$/);
  assert.deepEqual(statement.values, ['r', 20]);
  for (const limit of [Infinity, -Infinity, NaN, 1.5, -1, 2 ** 53]) {
    assert.throws(() => viewSql(board, { where: 'true', values: [], orderBy: 't.placed_at', limit }), (error: unknown) => error instanceof ValidationError && error.details.field === 'limit', String(limit));
  }
});
