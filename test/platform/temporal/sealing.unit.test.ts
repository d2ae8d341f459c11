import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSealed, keyIdOf, newDataKey, revealFields, seal, SealedValueError, sealFields, subjectDigest, unseal } from '../../../src/platform/temporal/index.ts';

describe('crypto-shredding: sealed values', () => {
  const key = newDataKey();
  const keyId = 'customer:0190a0b0-0000-7000-8000-000000000001';

  test('seal and unseal round-trip; every seal is different; the value names its key and hides the text', () => {
    const a = seal('Rua 1, Porto — 2º esq', key, keyId);
    const b = seal('Rua 1, Porto — 2º esq', key, keyId);
    assert.ok(isSealed(a));
    assert.notEqual(a, b, 'a random IV per seal');
    assert.equal(keyIdOf(a), keyId);
    assert.ok(!a.includes('Rua'));
    assert.equal(unseal(a, key), 'Rua 1, Porto — 2º esq');
    assert.equal(unseal(seal('', key, keyId), key), '');
  });

  test('another key, an altered body, or the value moved under another key id does not open', () => {
    const sealed = seal('secret', key, keyId);
    assert.throws(() => unseal(sealed, newDataKey()), (e: unknown) => e instanceof SealedValueError && e.code === 'SEALED_VALUE_INVALID');
    const body = sealed.slice(sealed.lastIndexOf(':') + 1);
    const flipped = `${sealed.slice(0, sealed.lastIndexOf(':') + 1)}${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
    assert.throws(() => unseal(flipped, key), SealedValueError);
    const moved = sealed.replace(keyId, 'customer:0190a0b0-0000-7000-8000-000000000002');
    assert.throws(() => unseal(moved, key), SealedValueError, 'the key id is authenticated');
    assert.throws(() => unseal('sealed:v1:x:AAAA', key), SealedValueError, 'too short');
    assert.throws(() => keyIdOf('plain text'), SealedValueError);
    assert.throws(() => seal('x', Buffer.alloc(16), keyId), SealedValueError, 'AES-256 keys only');
  });

  test('sealFields seals the strings at the pointers in a copy and says so; absent and null fields stay; others are refused', () => {
    const data = { orderId: 'o1', deliveryAddress: 'Rua 1', note: null, 'a/b': { '~c': 'x' }, n: 3 };
    const { data: sealed, encryption } = sealFields(data, ['/deliveryAddress', '/note', '/missing', '/a~1b/~0c'], { keyId, key });
    assert.deepEqual(encryption, { keyId, fields: ['/deliveryAddress', '/note', '/missing', '/a~1b/~0c'] });
    assert.equal(data.deliveryAddress, 'Rua 1', 'the input is not changed');
    assert.ok(isSealed(sealed.deliveryAddress));
    assert.ok(isSealed(sealed['a/b']['~c']), 'RFC 6901 escapes');
    assert.equal(sealed.note, null);
    assert.equal(sealed.orderId, 'o1');
    assert.throws(() => sealFields(data, ['/n'], { keyId, key }), SealedValueError, 'only strings');
    assert.throws(() => sealFields(data, ['deliveryAddress'], { keyId, key }), SealedValueError, 'a pointer starts with /');
    assert.throws(() => sealFields(data, ['/orderId/x'], { keyId, key }), SealedValueError, 'no member of a string');
  });

  test('revealFields opens the declared fields of every item with one key read, null where the key is gone, and nothing else', async () => {
    const other = newDataKey();
    const otherId = 'customer:0190a0b0-0000-7000-8000-000000000002';
    const lookalike = `sealed:v1:${keyId}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    const items = [
      { orderId: 'a', deliveryAddress: seal('Rua 1', key, keyId), cancelReason: lookalike, nested: { note: seal('x', key, keyId) } },
      { orderId: 'b', deliveryAddress: seal('Rua 2', other, otherId) },
      { orderId: 'c', deliveryAddress: 'Rua 3 (written before it was sealed)' },
      { orderId: 'd', deliveryAddress: null },
    ];
    const reads: string[][] = [];
    const readKeys = async (ids: readonly string[]) => {
      reads.push([...ids].sort());
      return new Map([[keyId, key]]); // the other customer was erased
    };
    const revealed = await revealFields(items, (item) => (item.orderId === 'a' ? ['/deliveryAddress', '/nested/note', '/missing/x'] : ['/deliveryAddress']), readKeys);
    assert.deepEqual(reads, [[keyId, otherId].sort()], 'one read for every key id at once');
    assert.deepEqual(revealed, [
      { orderId: 'a', deliveryAddress: 'Rua 1', cancelReason: lookalike, nested: { note: 'x' } },
      { orderId: 'b', deliveryAddress: null },
      { orderId: 'c', deliveryAddress: 'Rua 3 (written before it was sealed)' },
      { orderId: 'd', deliveryAddress: null },
    ]);
    assert.ok(isSealed(items[0]!.deliveryAddress), 'the input is not changed');
    // A look-alike in a declared field that does not open is an error (altered data), never silently null.
    await assert.rejects(revealFields([{ deliveryAddress: lookalike }], () => ['/deliveryAddress'], readKeys), SealedValueError);
    const plain = [{ a: [1, 'two', null], deliveryAddress: 'Rua 4' }];
    assert.deepEqual(await revealFields(plain, () => ['/deliveryAddress'], async () => assert.fail('no key read without a sealed value')), plain);
  });

  test("a subject's digest is the same for the same key, purpose and text, and another for any other", () => {
    const subject = { keyId, key };
    const digest = subjectDigest(subject, 'a purpose', 'Rua 1, Porto');
    assert.equal(digest.length, 32);
    assert.ok(digest.equals(subjectDigest({ keyId, key: Buffer.from(key) }, 'a purpose', 'Rua 1, Porto')));
    assert.ok(!digest.equals(subjectDigest(subject, 'a purpose', 'Rua 2, Porto')));
    assert.ok(!digest.equals(subjectDigest(subject, 'another purpose', 'Rua 1, Porto')));
    assert.ok(!digest.equals(subjectDigest({ keyId, key: newDataKey() }, 'a purpose', 'Rua 1, Porto')), 'without the key (destroyed by the erasure) no guess matches');
  });
});
