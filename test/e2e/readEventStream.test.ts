import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';

// web/common.js is the browser's module, served as it is; its stream reader runs on fetch, which Node has too.
Object.assign(globalThis, { window: { TextDecoder, sessionStorage: { getItem: () => 'token' }, location: { origin: 'http://127.0.0.1' } } });
const commonJs = pathToFileURL(path.resolve(import.meta.dirname, '..', '..', 'web', 'common.js')).href;
type Handlers = { onOpen(): void; onEvent(type: string, data: string, id: string | null): void; onDown(reason: string, final: boolean, wait?: unknown): void; silenceMs?: number; stableMs?: number };
const { readEventStream, reconnectDelay } = (await import(commonJs)) as {
  readEventStream(path: string, handlers: Handlers): { stop(): void };
  reconnectDelay(retryMs: number, failures: number, retryAfter: number | null): number;
};

test('a stream that goes silent without closing is dropped after silenceMs and made again with Last-Event-ID (before: it read nothing for ever while the board said Live)', async (t) => {
  const requests: Array<string | undefined> = [];
  /** The id of the last event the reader had read when each request came (client and server share this process). */
  const lastReadAt: Array<string | undefined> = [];
  let lastRead: string | undefined;
  const held: ServerResponse[] = [];
  const server = createServer((request, response) => {
    requests.push(request.headers['last-event-id'] as string | undefined);
    lastReadAt.push(lastRead);
    held.push(response);
    // One event, then nothing: no heartbeat, and the connection stays open.
    response.writeHead(200, { 'content-type': 'text/event-stream' }).write(`retry: 50\n\nid: 1.${requests.length}\nevent: start\ndata: {}\n\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const response of held) response.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const downs: string[] = [];
  let opened = 0;
  const reconnected = new Promise<void>((resolve) => {
    const reader = readEventStream(`http://127.0.0.1:${port}/stream`, {
      onOpen: () => {
        // A connection made after an event was read: its request shows whether the reader resumed.
        if (++opened >= 2 && lastReadAt.at(-1) !== undefined) {
          reader.stop();
          resolve();
        }
      },
      onEvent: (_type, _data, id) => {
        if (id !== null) lastRead = id;
      },
      onDown: (reason) => downs.push(reason),
      silenceMs: 300,
    });
  });
  await Promise.race([reconnected, new Promise((_, reject) => setTimeout(() => reject(new Error(`no reconnect; downs: ${downs.join('; ')}`)), 10_000))]);
  // On a loaded machine a new connection's answer can itself take longer than silenceMs (the watchdog
  // covers the connect too), which adds one more silent drop and one more request: both stay correct.
  assert.ok(downs.length >= 1, 'the silent stream was dropped');
  for (const reason of downs) assert.equal(reason, 'nothing arrived for 0.3 s');
  assert.equal(requests[0], undefined, 'the first connection has no last event id');
  assert.ok(requests.length >= 2);
  // On a loaded machine a connection can be dropped before its event is read: the next request then
  // carries the last event read before it (none, or an earlier connection's).
  assert.deepEqual(requests, lastReadAt, 'each later connection resumes after the last event read');
  assert.match(requests.at(-1) ?? '', /^1\.\d+$/, 'the last connection resumed after an event');
});

type Down = { reason: string; final: boolean; retryInMs: number; status: number | null };

/**
 * Serves each request with `answer(n, request, response)` (n from 1; a response it passes to `hold`
 * stays open until the test ends) and reads the stream until it has opened `opens` times; returns
 * each drop as `onDown` told it.
 */
async function dropsUntilOpened(
  t: TestContext,
  opens: number,
  answer: (n: number, request: IncomingMessage, response: ServerResponse, hold: (response: ServerResponse) => void) => void,
  options: { stableMs?: number } = {},
): Promise<Down[]> {
  let requests = 0;
  const held: ServerResponse[] = [];
  const server = createServer((request, response) => answer(++requests, request, response, (r) => void held.push(r)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const response of held) response.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const downs: Down[] = [];
  await new Promise<void>((resolve, reject) => {
    let opened = 0;
    const timeout = setTimeout(() => reject(new Error(`not reopened; downs: ${JSON.stringify(downs)}`)), 10_000);
    const reader = readEventStream(`http://127.0.0.1:${port}/stream`, {
      onOpen: () => {
        if (++opened === opens) {
          clearTimeout(timeout);
          reader.stop();
          resolve();
        }
      },
      onEvent: () => {},
      onDown: (reason, final, wait) => downs.push({ reason, final, ...(wait as { retryInMs: number; status: number | null }) }),
      ...options,
    });
  });
  return downs;
}

/** A stream's answer: `retry: 50` and a start event. */
const opening = (response: ServerResponse) => response.writeHead(200, { 'content-type': 'text/event-stream' }).write('retry: 50\n\nevent: start\ndata: {}\n\n');

test("a stream refused (non-OK) is asked again no sooner than its Retry-After, then after a wait that doubles with each failure in a row, drops that come at once included (before: every `retry`, 2 s, whatever the server said)", async (t) => {
  // The answers, in order: a stream that opens and ends (retry 50 ms), a 503 with Retry-After: 1, two
  // 503s without, a stream that opens and ends, then one held open.
  const answers: Array<{ status: number; retryAfter?: string }> = [{ status: 200 }, { status: 503, retryAfter: '1' }, { status: 503 }, { status: 503 }, { status: 200 }];
  const times: number[] = [];
  const downs = await dropsUntilOpened(t, 3, (n, _request, response, hold) => {
    times.push(Date.now());
    const answer = answers[n - 1] ?? { status: 200 };
    if (answer.status !== 200) {
      response.writeHead(answer.status, { 'content-type': 'application/problem+json', ...(answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}) }).end(JSON.stringify({ detail: 'Busy' }));
      return;
    }
    opening(response);
    if (n <= answers.length) response.end();
    else hold(response);
  });
  assert.deepEqual(
    downs.map((d) => [d.final, d.retryInMs, d.status]),
    [[false, 50, null], [false, 1000, 503], [false, 200, 503], [false, 400, 503], [false, 800, null]],
    'the first failure waits `retry`; a refusal waits its Retry-After at least; each failure in a row doubles the wait, a connection that opened and dropped at once too',
  );
  assert.equal(downs[1]?.reason, 'Busy.');
  assert.ok(times[2]! - times[1]! >= 1000, `asked again ${times[2]! - times[1]!} ms after a Retry-After of 1 s`);
});

test('a connection that stayed open stableMs starts the count again; a network failure counts as one (before: a drop at once or a platform down was asked again every 2 s for ever)', async (t) => {
  // The answers, in order: two streams that open and end at once, one that stays open 1.2 s (stableMs
  // is 200; 300 ms failed once under a loaded CI run, the client hearing the opening late), a
  // connection cut without an answer, then one held open.
  const downs = await dropsUntilOpened(
    t,
    4,
    (n, request, response, hold) => {
      if (n === 4) {
        request.socket.destroy();
        return;
      }
      opening(response);
      if (n <= 2) response.end();
      else if (n === 3) setTimeout(() => response.end(), 1200);
      else hold(response);
    },
    { stableMs: 200 },
  );
  assert.deepEqual(
    downs.map((d) => [d.retryInMs, d.status]),
    [[50, null], [100, null], [50, null], [100, null]],
    'two drops at once: 50, 100; after one that stayed open: 50 again; the network failure after it: 100',
  );
});

test('the wait before a refused stream is asked again doubles up to 30 s, and a longer Retry-After is waited in full', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 10].map((refusals) => reconnectDelay(2000, refusals, null)), [2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(reconnectDelay(2000, 1, 60), 60_000);
  assert.equal(reconnectDelay(2000, 4, 1), 16_000);
  assert.equal(reconnectDelay(50, 1, null), 50, 'the first failure: the stream’s retry');
});
