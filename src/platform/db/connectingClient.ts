import pg from 'pg';
import { markConnectFailure } from './connectFailure.ts';

/**
 * How long a connection may take to open where no setting says (a restaurant's database migrated by
 * `brigade tenants move`, a test): a server that takes the connection and never answers fails the
 * attempt then, instead of holding it for ever. The CLI and the server give theirs
 * `DATABASE_ACQUIRE_TIMEOUT_MS`.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * pg's `Client`, whose failure to connect is marked as such (`markConnectFailure`, with the
 * `host:port` and the time limit), so that a command can say "no PostgreSQL answered at DATABASE_URL
 * (host:port) within 5 s" rather than the driver's bare "timeout expired" or "Connection terminated
 * unexpectedly", which name nothing. `createDatabases` gives it to every pool (pg-pool's `Client`
 * option); the migrator opens its sessions with it.
 *
 * @example
 * const client = new ConnectingClient({ connectionString: url, connectionTimeoutMillis: 5000 });
 * await connectClient(client, signal);
 */
export class ConnectingClient extends pg.Client {
  readonly #timeoutMs: number;
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.#timeoutMs = typeof config === 'object' ? (config.connectionTimeoutMillis ?? 0) : 0;
  }
  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    const mark = (error: Error | null | undefined): void => {
      if (error) markConnectFailure(error, { address: `${this.host}:${this.port}`, timeoutMs: this.#timeoutMs });
    };
    if (callback === undefined) {
      return super.connect().catch((error: Error) => {
        mark(error);
        throw error;
      });
    }
    // pg calls back with the error, or with null and the client.
    const done = callback as (err: Error | null, c?: pg.Client) => void;
    super.connect((error: Error | null, client?: pg.Client) => {
      mark(error);
      done(error, client);
    });
  }
}

/**
 * Opens `client`, giving up at once when `signal` aborts (Ctrl+C): the attempt's socket is destroyed,
 * so a server that never answers does not hold the command (pg's `end()` waits for the connection to
 * open first). The attempt then fails with the driver's "Connection terminated"; the caller reports the
 * abort. Its own time limit is the client's `connectionTimeoutMillis`.
 *
 * @example
 * await connectClient(client, stop.signal);
 */
export async function connectClient(client: pg.Client, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const abandon = () => (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  signal?.addEventListener('abort', abandon, { once: true });
  try {
    await client.connect();
  } finally {
    signal?.removeEventListener('abort', abandon);
  }
}
