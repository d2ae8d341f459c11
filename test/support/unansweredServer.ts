import { createServer } from 'node:http';

/** An HTTP server that takes requests and never answers them, made by {@link unansweredServer}. */
export interface UnansweredServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  /** How many requests it has taken. */
  taken(): number;
  /** How many of those requests' connections their client closed (a `fetch` aborted by its signal closes its own). */
  closed(): number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * A server on 127.0.0.1 (a free port) that reads each request and never answers it: I/O that only the
 * caller's signal (or its own timeout) ends.
 *
 * @example
 * const server = await unansweredServer();
 * const pending = fetch(server.url, { signal });
 */
export async function unansweredServer(): Promise<UnansweredServer> {
  let taken = 0;
  let closed = 0;
  const server = createServer((request) => {
    taken++;
    request.socket.on('close', () => closed++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    taken: () => taken,
    closed: () => closed,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
