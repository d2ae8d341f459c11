import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { InvalidMessageError, serializedPayload, withSerializedPayload } from '../../../src/platform/messaging/index.ts';
import { encodeHeaders } from '../../../src/platform/messaging/nats/encodeHeaders.ts';

const headers = { correlation: 'c', causation: '', tenant: 't', traceparent: '' };
const base = { id: '0193e1c2-aaaa-7bbb-8ccc-123456789abc', subject: 'ordering.order.placed', key: 'order-1', headers };

test('a message built from JSON text sends that text and reads as the parsed value', () => {
  const text = '{"total": 2200, "lines": [{"name": "Margherita"}]}';
  const m = withSerializedPayload(base, text);
  assert.equal(serializedPayload(m), text, 'the stored text, not a re-serialisation (which would drop the spaces)');
  assert.deepEqual(m.payload, { total: 2200, lines: [{ name: 'Margherita' }] });
  assert.equal(m.id, base.id);
});

test('the text is parsed on the first read of payload only, and once', () => {
  const unparsable = withSerializedPayload(base, 'not json');
  assert.equal(serializedPayload(unparsable), 'not json', 'sending needs no parse');
  assert.throws(() => unparsable.payload, SyntaxError, 'the parse happens at the read');
  const m = withSerializedPayload(base, '{"a": [1]}');
  assert.equal(m.payload, m.payload, 'the same parsed value on every read');
  assert.ok(Object.keys(m).includes('payload'), 'an own enumerable property, as spread and deepEqual see it');
});

test('a copy of such a message is serialised from its own payload, and a plain message as before', () => {
  const m = withSerializedPayload(base, '{"a": 1}');
  assert.equal(serializedPayload({ ...m, payload: null }), 'null');
  assert.equal(serializedPayload({ ...m }), '{"a":1}');
  assert.equal(serializedPayload({ ...base, payload: { b: [1, 2] } }), '{"b":[1,2]}');
  assert.equal(serializedPayload({ ...base, payload: undefined }), 'null');
});

test('NATS headers built in one string decode as nats.js decodes its own, empty values left out', () => {
  const block = encodeHeaders([
    ['Nats-Msg-Id', base.id],
    ['Brigade-Key', ' order-1 '],
    ['Brigade-H-correlation', 'c'],
    ['Brigade-H-causation', ''],
  ]) as unknown as MsgHdrsImpl; // what nats.js's publish calls: encode()
  const encoded = block.encode();
  const decoded = MsgHdrsImpl.decode(encoded);
  assert.equal(decoded.get('Nats-Msg-Id'), base.id);
  assert.equal(decoded.get('Brigade-Key'), 'order-1', 'values are trimmed, as nats.js sends them');
  assert.equal(decoded.get('Brigade-H-correlation'), 'c');
  assert.equal(decoded.has('Brigade-H-causation'), false);
  assert.deepEqual(encoded, MsgHdrsImpl.decode(encoded).encode(), 'byte for byte what nats.js would encode');
});

test('a header NATS cannot carry is refused before anything is sent', () => {
  assert.throws(() => encodeHeaders([['Brigade-Key', 'order\r\n1']]), InvalidMessageError);
  assert.throws(() => encodeHeaders([['Bad:Name', 'x']]), InvalidMessageError);
  assert.throws(() => encodeHeaders([['Bad Name', 'x']]), InvalidMessageError);
});
