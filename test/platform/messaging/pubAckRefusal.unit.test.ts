import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError } from '../../../src/platform/errors/index.ts';
import { InvalidMessageError } from '../../../src/platform/messaging/index.ts';
import { pubAckRefusal } from '../../../src/platform/messaging/nats/pubAckRefusal.ts';

const m = { id: '0198c3a0-0000-7000-8000-0000000000aa', subject: 'ordering.order.Placed' };

describe('a JetStream PubAck refusal: the message, or the stream (decision 0078, "Fixed later")', () => {
  test('over max_msg_size (10054) and headers over 64 KiB (10097) refuse the message: MESSAGE_INVALID naming it', () => {
    for (const [err_code, field] of [[10054, 'payload'], [10097, 'headers']] as const) {
      const error = pubAckRefusal('BRIGADE', m, { code: 400, err_code, description: 'too big' });
      assert.ok(error instanceof InvalidMessageError, String(error));
      assert.equal(error.status, 400);
      assert.deepEqual({ ...error.details }, { field, messageId: m.id });
      assert.match(error.message, new RegExp(`^JetStream stream BRIGADE refused message ${m.id} \\(ordering\\.order\\.Placed\\): too big \\(JetStream error ${err_code}\\)`));
    }
  });

  test('the stream\'s state, and any code not known, stay an outage (retried): full, insufficient resources, no leader, sealed, too many requests', () => {
    const stateful: Array<[number, number, string]> = [
      [503, 10077, 'maximum messages exceeded'],
      [503, 10023, 'insufficient resources'],
      [503, 10008, 'JetStream system temporarily unavailable'],
      [500, 10009, 'JetStream cluster can not handle request'],
      [400, 10109, 'invalid operation on sealed stream'],
      [429, 10167, 'too many requests'],
      [400, 99999, 'a code this version does not know'],
    ];
    for (const [code, err_code, description] of stateful) {
      const error = pubAckRefusal('BRIGADE', m, { code, err_code, description });
      assert.ok(error instanceof UnavailableError, `${err_code}: ${String(error)}`);
      assert.match(error.message, new RegExp(`${description} \\(JetStream error ${err_code}\\)$`));
    }
    // An error without err_code (an older server): its status is shown, and it is retried.
    assert.ok(pubAckRefusal('BRIGADE', m, { code: 400, description: 'bad' }) instanceof UnavailableError);
  });
});
