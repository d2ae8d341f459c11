import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError, ValidationError } from '../../../src/platform/errors/index.ts';
import { InvalidMessageError } from '../../../src/platform/messaging/index.ts';
import { OutboxMessageRefusedError } from '../../../src/platform/outbox/index.ts';
import { isMessageRefusal } from '../../../src/platform/outbox/isMessageRefusal.ts';

describe('a failed publish: a refusal of the message, or an outage', () => {
  test('the transports’ refusals of a message, and values a PostgreSQL bus cannot store, are refusals', () => {
    assert.equal(isMessageRefusal(new InvalidMessageError('Header name "bad name" is not printable ASCII without \':\'', 'headers')), true);
    assert.equal(isMessageRefusal(new ValidationError('bad', { field: 'x' })), true);
    assert.equal(isMessageRefusal(Object.assign(new Error('invalid input syntax for type json'), { code: '22P02' })), true);
    assert.equal(isMessageRefusal(Object.assign(new Error('new row violates check constraint'), { code: '23514' })), true);
  });

  test('a broker or database that does not answer is not', () => {
    assert.equal(isMessageRefusal(new UnavailableError('JetStream did not ack within 5000 ms')), false);
    assert.equal(isMessageRefusal(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4222'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isMessageRefusal(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })), false);
    assert.equal(isMessageRefusal(Object.assign(new Error('CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })), false);
    assert.equal(isMessageRefusal(new Error('broker down')), false);
    assert.equal(isMessageRefusal(null), false);
  });

  test('the error names the row, says what to do, and keeps the cause; a refused call of several rows says the transport did not say which', () => {
    const cause = new InvalidMessageError('Header name "bad name" is not printable ASCII without \':\'', 'headers');
    const row = { outbox: 'ordering', id: '42', messageId: '01a24a51-5e9b-7000-8c6d-df34c5ab28f9', subject: 'ordering.order.OrderPlaced' };
    const one = new OutboxMessageRefusedError(row, { cause });
    assert.equal(one.code, 'OUTBOX_MESSAGE_REFUSED');
    assert.equal(one.cause, cause);
    assert.deepEqual({ ...one.details }, row);
    assert.match(one.message, /^Outbox ordering row 42 \(message 01a24a51-5e9b-7000-8c6d-df34c5ab28f9, subject ordering\.order\.OrderPlaced\) was refused: Header name "bad name"/);
    assert.match(one.message, /delete from ordering\.outbox where id = 42/);
    const several = new OutboxMessageRefusedError(row, { cause, sentWith: 3 });
    assert.match(several.message, /a publish of 3 rows, the first row 42 .* \(the transport did not say which row\)/);
  });
});
