import assert from 'node:assert/strict';
import { test } from 'node:test';
import { offersDevLogin } from '../../src/composition/offersDevLogin.ts';

test('the development login is offered only on the embedded database bound to a loopback interface', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
    assert.equal(offersDevLogin(host, true), true, host);
    assert.equal(offersDevLogin(host, false), false, `${host} without the embedded database`);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.com', '::ffff:10.0.0.1']) {
    assert.equal(offersDevLogin(host, true), false, host);
  }
});
