import type pg from 'pg';

/** The driver's connection with the COPY message its type declarations leave out. */
type CopyConnection = pg.Connection & { endCopyFrom(): void };

/** Protocol message type of CopyData. */
const COPY_DATA = 0x64; // 'd'

/**
 * Runs `statement`, a `COPY … FROM STDIN` (text format), on `client` and sends `chunks` as its data:
 * the driver has no COPY of its own, so this is the one query object it accepts for it (`submit` and
 * the message handlers). Resolves once the server is ready again; rejects with the server's error
 * (bad data, a constraint) or a lost connection. Each chunk is one or more whole lines. Each becomes
 * one CopyData message, encoded straight into its frame and written to the connection's socket: the
 * driver's own `sendCopyFromChunk` would copy every byte twice more.
 *
 * COPY refuses a table under row-level security for the writer; it is for tables only the caller
 * can see (a rebuild's shadow before its policies exist).
 */
export function copyFromStdin(client: pg.ClientBase, statement: string, chunks: readonly string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const query = {
      submit: (connection: pg.Connection) => connection.query(statement),
      handleCopyInResponse: (connection: CopyConnection) => {
        for (const chunk of chunks) {
          const length = Buffer.byteLength(chunk);
          const message = Buffer.allocUnsafe(5 + length);
          message[0] = COPY_DATA;
          message.writeInt32BE(4 + length, 1);
          message.write(chunk, 5, 'utf8');
          connection.stream.write(message);
        }
        connection.endCopyFrom();
      },
      // An error comes before ReadyForQuery (which then settles nothing) or, for a lost connection, alone.
      handleError: (error: Error) => reject(error),
      handleReadyForQuery: () => resolve(),
      handleCommandComplete: () => undefined,
      handleRowDescription: () => undefined,
      handleDataRow: () => undefined,
      handleEmptyQuery: () => undefined,
      handlePortalSuspended: () => undefined,
      handleCopyData: () => undefined,
    };
    client.query(query);
  });
}
