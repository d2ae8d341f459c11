import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { problemAt } from './problem.ts';

/** What Node's HTTP parser refused, as a status, a stable code and what to do about it. */
function describe(error: NodeJS.ErrnoException): { status: number; code: string; detail: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', detail: "The request's URL and headers are larger than this server accepts (16 KiB in all); shorten the URL (fewer or shorter query parameters), or send fewer or shorter headers (a smaller cookie or token)." };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', detail: 'The request did not arrive in full in time; send it again.' };
    default:
      return { status: 400, code: 'MALFORMED_REQUEST', detail: 'The request is not valid HTTP/1.1; check the client or the proxy in front of this server.' };
  }
}

/**
 * Fastify's `clientErrorHandler`: a request that Node's HTTP parser refuses (headers too large, a
 * request that timed out, bytes that are not HTTP) never reaches a route or `errorHandler`, so it is
 * answered here, on the socket, with the same `application/problem+json` document as every other
 * error (Fastify's default answers plain JSON without a `code`). A connection the client already
 * reset gets nothing.
 *
 * `counted` is told the status answered (the metrics' `unparsed` route).
 *
 * @example
 * Fastify({ clientErrorHandler: answerClientError });
 */
export function answerClientError(this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket, counted: (status: number) => void = () => undefined): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, detail } = describe(error);
  counted(status);
  const requestId = randomUUID();
  // The headers every other answer carries (DEFAULT_RESPONSE_HEADERS), written by hand here.
  // The parser's code and reason only: Node's error also carries `rawPacket`, the request's bytes
  // (a bearer token, a card number, a password), which must never reach the log (decision 0052).
  this.log.debug({ requestId, parserCode: error.code, reason: (error as { reason?: string }).reason ?? error.message }, `client error: ${code}`);
  if (socket.writable) {
    const body = JSON.stringify(problemAt('', requestId, status, code, detail));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
