import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldAt } from '../../src/api/inputAt.ts';
import { UnprocessableError, ValidationError } from '../../src/platform/errors/index.ts';

test('fieldAt puts a bare field at its location and keeps the class, code, message and other details; a located field, a header name or another error stay as they are', () => {
  const cause = new Error('root');
  const bare = new UnprocessableError('COURIER_UNKNOWN', 'No courier x', { field: 'courierId', courierId: 'x' });
  Object.defineProperty(bare, 'cause', { value: cause });
  const located = fieldAt(bare, 'body') as UnprocessableError;
  assert.ok(located instanceof UnprocessableError);
  assert.deepEqual([located.code, located.status, located.message, located.cause, { ...located.details }], [
    'COURIER_UNKNOWN', 422, 'No courier x', cause, { field: 'body.courierId', courierId: 'x' },
  ]);
  assert.equal(bare.details.field, 'courierId', 'the error given is not changed');
  assert.equal((fieldAt(new ValidationError('x', { field: 'lines.0' }), 'body') as ValidationError).details.field, 'body.lines.0');
  for (const field of ['querystring.before', 'If-Match', 'Idempotency-Key', undefined]) {
    const error = new ValidationError('x', field === undefined ? {} : { field });
    assert.equal(fieldAt(error, 'body'), error, String(field));
  }
  const other = new Error('x');
  assert.equal(fieldAt(other, 'body'), other);
});
