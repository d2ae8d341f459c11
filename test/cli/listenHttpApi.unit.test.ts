import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { listenHttpApi } from '../../src/cli/portInUse.ts';

test('listenHttpApi: Fastify\'s own "Server listening" line stays out of the start\'s output (the caller prints the address), and the logger keeps its level after', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const app = Fastify({ logger: { level: 'info', stream } });
  t.after(() => app.close());
  const address = await listenHttpApi(app, { host: '127.0.0.1', port: 0 });
  assert.match(address, /^http:\/\/127\.0\.0\.1:\d+$/);
  app.log.info('after the listen');
  assert.equal(app.log.level, 'info');
  assert.deepEqual(
    lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
    ['after the listen'],
  );
});
