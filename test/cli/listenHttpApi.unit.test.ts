import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { checkHttpPortFree, listenHttpApi } from '../../src/cli/portInUse.ts';

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

test('listenHttpApi and checkHttpPortFree: a HOST that is not an address of this machine (a name that does not resolve, an address no interface has) is HOST_INVALID naming HOST, not a bare getaddrinfo error', async (t) => {
  const app = Fastify({ logger: false });
  t.after(() => app.close());
  // .invalid never resolves (RFC 6761); 192.0.2.1 is TEST-NET-1, documentation only, on no interface here.
  for (const host of ['api.internal.invalid', '192.0.2.1']) {
    const invalid = (error: unknown) => {
      const { code, message } = error as { code?: string; message: string };
      assert.equal(code, 'HOST_INVALID', message);
      assert.match(message, new RegExp(`^the HTTP API cannot listen on HOST=${host.replaceAll('.', '\\.')}: it is not an address of this machine \\(.+\\)\\. Set HOST to one of its addresses, e\\.g\\. 127\\.0\\.0\\.1 \\(this machine only\\) or 0\\.0\\.0\\.0 \\(every interface\\)\\.$`));
      return true;
    };
    await assert.rejects(checkHttpPortFree({ host, port: 3423 }), invalid, host);
    await assert.rejects(checkHttpPortFree({ host, port: 0 }), invalid, host);
    await assert.rejects(listenHttpApi(app, { host, port: 0 }), invalid, host);
  }
});
