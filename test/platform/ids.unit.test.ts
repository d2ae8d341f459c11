import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isUuid } from '../../src/platform/ids/index.ts';

describe('isUuid', () => {
  test('accepts the canonical text of any version, in either case', () => {
    for (const id of ['0190f5e4-7b2a-7c3d-8e4f-5a6b7c8d9e0f', '00000000-0000-4000-8000-000000000000', 'ABCDEF01-2345-6789-ABCD-EF0123456789']) assert.ok(isUuid(id), id);
  });
  test('refuses every other form: no dashes, braces, spaces, a line break, other letters (stricter than a uuid cast)', () => {
    for (const id of ['', 'not-a-uuid', '0190f5e47b2a7c3d8e4f5a6b7c8d9e0f', '{0190f5e4-7b2a-7c3d-8e4f-5a6b7c8d9e0f}', '0190f5e4-7b2a-7c3d-8e4f-5a6b7c8d9e0f\n', ' 0190f5e4-7b2a-7c3d-8e4f-5a6b7c8d9e0f', '0190f5e4-7b2a-7c3d-8e4f-5a6b7c8d9e0g']) {
      assert.ok(!isUuid(id), JSON.stringify(id));
    }
  });
});
