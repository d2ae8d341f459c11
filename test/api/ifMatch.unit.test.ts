import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ifMatchVersion } from '../../src/api/ifMatch.ts';

describe('If-Match', () => {
  test('the version of the ETag as read, a bare number, or a weak tag (a compressing proxy weakens it)', () => {
    assert.equal(ifMatchVersion('"7"'), 7);
    assert.equal(ifMatchVersion(' 7 '), 7);
    assert.equal(ifMatchVersion('W/"7"'), 7);
  });

  test('missing: 428; *, a list, unbalanced quotes or no number: 400 naming If-Match and what to send', () => {
    assert.throws(() => ifMatchVersion(undefined), { status: 428 });
    assert.throws(() => ifMatchVersion(''), { status: 428 });
    for (const [value, why] of [['*', /\* is not taken/], ['"1", "2"', /one version, not a list/], [['"1"', '"2"'], /not a list/], ['"1', /not a version/], ['1"', /not a version/], ['"abc"', /not a version/], ['"1234567890"', /not a version/]] as const) {
      assert.throws(() => ifMatchVersion(value as string | string[]), (error: { status: number; details: { field: string }; message: string }) => {
        assert.deepEqual([error.status, error.details.field], [400, 'If-Match'], String(value));
        assert.match(error.message, why);
        assert.match(error.message, /send the version from the ETag you read/);
        return true;
      });
    }
  });
});
