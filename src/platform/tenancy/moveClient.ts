import pg from 'pg';

/** How long a move's connection (its own sessions and the side sessions) may take to open, in ms. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * After how long without traffic the client's operating system starts probing a move's connection, in
 * ms. Only this first delay is Node's to set: the probes' interval and count are the system's (Linux:
 * 75 s, 9), so a connection whose peer vanished while the move waited for its answer fails after about
 * 11 minutes (about 15 when the request itself went unacknowledged: the retransmissions give up), not
 * after two hours. A live server answers the probes whatever it is doing, so a long statement is not cut.
 */
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * How long the move's session in the shared database may sit idle inside a transaction before the server
 * ends it, releasing the fence: the session waits there only while the target writes one batch of the
 * copy (seconds), so a minute means the move stopped (its target silent, the process suspended).
 */
export const SOURCE_IDLE_IN_TRANSACTION_MS = 60_000;

/**
 * A client for one of a move's sessions, or a side session (`applicationName` is what `pg_stat_activity`
 * shows): it gives up on a server that does not let it in within {@link CONNECT_TIMEOUT_MS} and probes an
 * idle connection after {@link KEEPALIVE_DELAY_MS}. Errors of an idle client are left to its next query.
 */
export function moveClient(url: string, applicationName: string): pg.Client {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * The server's side of a move's session, run once on it (over TCP; a Unix socket ignores the `tcp_`
 * settings): the server probes the connection after 10 s without traffic, every 5 s, and ends the session
 * after 3 unanswered probes, or when what it sent stays unacknowledged for 30 s. So a move whose client
 * vanished from the network (packets dropped, no reset) loses its session within about half a minute,
 * and with it its locks: the fence in the shared database, the move lock and the uncommitted copy in the
 * target. In the shared database (`which: 'shared'`), the session is also ended after
 * {@link SOURCE_IDLE_IN_TRANSACTION_MS} idle inside a transaction.
 */
export function moveSessionSettings(which: 'shared' | 'target'): string {
  const settings: Array<[string, string]> = [
    ['tcp_keepalives_idle', '10'],
    ['tcp_keepalives_interval', '5'],
    ['tcp_keepalives_count', '3'],
    ['tcp_user_timeout', '30000'],
    ...(which === 'shared' ? [['idle_in_transaction_session_timeout', String(SOURCE_IDLE_IN_TRANSACTION_MS)] as [string, string]] : []),
  ];
  return `select ${settings.map(([name, value]) => `set_config('${name}', '${value}', false)`).join(', ')}`;
}
