import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ifNoneMatchHits } from '../../src/api/ifNoneMatch.ts';

test('If-None-Match compares weakly (RFC 9110 §13.1.2): the tag, weak or strong, in a list or alone, or *; nothing else', () => {
  const etag = '"menu-7"';
  for (const header of ['"menu-7"', 'W/"menu-7"', '"menu-6", "menu-7"', 'W/"menu-6",W/"menu-7"', ' * ', ['"menu-6"', 'W/"menu-7"']]) {
    assert.equal(ifNoneMatchHits(header, etag), true, String(header));
  }
  for (const header of [undefined, '', '"menu-6"', 'menu-7', '"menu-70"', 'W/""menu-7""', '"menu-7', '*, "menu-6"']) {
    assert.equal(ifNoneMatchHits(header, etag), false, String(header));
  }
  assert.equal(ifNoneMatchHits('"menu-7"', 'W/"menu-7"'), true, 'a weak current tag matches its strong twin');
});
