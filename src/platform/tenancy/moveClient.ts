import pg from 'pg';
import { KEEPALIVE_CLIENT, peerProbeSettings } from '../db/index.ts';

/** How long a move's connection (its own sessions and the side sessions) may take to open, in ms. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long the move's session in the shared database may sit idle inside a transaction before the server
 * ends it, releasing the fence: the session waits there only while the target writes one batch of the
 * copy (seconds), so a minute means the move stopped (its target silent, the process suspended).
 */
export const SOURCE_IDLE_IN_TRANSACTION_MS = 60_000;

/**
 * A client for one of a move's sessions, or a side session (`applicationName` is what `pg_stat_activity`
 * shows): it gives up on a server that does not let it in within {@link CONNECT_TIMEOUT_MS} and probes an
 * idle connection after 10 s (`KEEPALIVE_CLIENT`: the interval and count are the operating system's, so
 * a vanished server fails it after about 11 minutes, not two hours). Errors of an idle client are left
 * to its next query.
 */
export function moveClient(url: string, applicationName: string): pg.Client {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...KEEPALIVE_CLIENT,
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * The server's side of a move's session, run once on it (`peerProbeSettings`): the server ends the
 * session within about half a minute of its client vanishing from the network (packets dropped, no
 * reset), and with it its locks: the fence in the shared database, the move lock and the uncommitted
 * copy in the target. In the shared database (`which: 'shared'`), the session is also ended after
 * {@link SOURCE_IDLE_IN_TRANSACTION_MS} idle inside a transaction.
 */
export function moveSessionSettings(which: 'shared' | 'target'): string {
  return peerProbeSettings(which === 'shared' ? [['idle_in_transaction_session_timeout', String(SOURCE_IDLE_IN_TRANSACTION_MS)]] : []);
}
