import type pg from 'pg';

/**
 * After how long without traffic the client's operating system starts probing a probed connection, in
 * ms. Only this first delay is Node's to set: the probes' interval and count are the system's (Linux:
 * 75 s, 9), so a connection whose peer vanished while the client waited for its answer fails after about
 * 11 minutes (about 15 when the request itself went unacknowledged: the retransmissions give up), not
 * after two hours. A live server answers the probes whatever it is doing, so a long statement is not cut.
 */
export const KEEPALIVE_DELAY_MS = 10_000;

/**
 * pg's options for a client of its own (`new pg.Client({ ...KEEPALIVE_CLIENT, … })`) that probes its idle
 * connection after {@link KEEPALIVE_DELAY_MS}. A connection a pool already opened gets the same from
 * {@link probePeer}.
 */
export const KEEPALIVE_CLIENT = { keepAlive: true, keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS } as const satisfies pg.ClientConfig;

/** The server's side (see {@link peerProbeSettings}), in the settings' base units. */
const SERVER_PROBES: ReadonlyArray<readonly [string, string]> = [
  ['tcp_keepalives_idle', '10'],
  ['tcp_keepalives_interval', '5'],
  ['tcp_keepalives_count', '3'],
  ['tcp_user_timeout', '30000'],
];

/**
 * The statement that sets the server's side of a session (run once on it, over TCP; a Unix socket
 * ignores the `tcp_` settings), with `extra` session settings beside (names and values from code, never
 * from input): the server probes the connection after 10 s without traffic, every 5 s, and ends the
 * session after 3 unanswered probes, or when what it sent stays unacknowledged for 30 s. So a session
 * whose client vanished from the network (a host killed or asleep, packets dropped, no reset) ends
 * within about half a minute, and with it its locks and its transaction; the operating system's
 * defaults take 2 h 11 min (7200 s, then 9 probes 75 s apart).
 *
 * @example
 * await client.query(peerProbeSettings([['idle_in_transaction_session_timeout', '60000']]));
 */
export function peerProbeSettings(extra: ReadonlyArray<readonly [string, string]> = []): string {
  return `select ${[...SERVER_PROBES, ...extra].map(([name, value]) => `set_config('${name}', '${value}', false)`).join(', ')}`;
}

/** The socket under a pg client (pg's own; a TLS socket forwards keepalive to the TCP one), and how it was opened. */
function socketOf(client: pg.ClientBase): { stream?: { setKeepAlive?: (enable: boolean, delayMs: number) => unknown }; _keepAlive?: boolean; _keepAliveInitialDelayMillis?: number } | undefined {
  return (client as unknown as { connection?: ReturnType<typeof socketOf> }).connection;
}

/**
 * Probes the peer of a connection held open for a long time, mostly idle, that holds what others wait
 * for: a session advisory lock (a projection's leader, a rebuild), a transaction. Both ends: the server
 * ends the session within about half a minute of the client vanishing ({@link peerProbeSettings}), and
 * the client's operating system probes after {@link KEEPALIVE_DELAY_MS} idle ({@link KEEPALIVE_CLIENT}).
 * For a connection borrowed from a pool: {@link stopProbingPeer} puts it back as it was before it is released.
 *
 * @example
 * const lockClient = await pool.connect();
 * await probePeer(lockClient);
 * // … hold the lock …
 * await stopProbingPeer(lockClient);
 * lockClient.release();
 */
export async function probePeer(client: pg.ClientBase): Promise<void> {
  socketOf(client)?.stream?.setKeepAlive?.(true, KEEPALIVE_DELAY_MS);
  await client.query(peerProbeSettings());
}

/** Undoes {@link probePeer}: the server's settings back to the session's defaults, the client's keepalive back to how its connection was opened. */
export async function stopProbingPeer(client: pg.ClientBase): Promise<void> {
  await client.query(SERVER_PROBES.map(([name]) => `reset ${name}`).join('; '));
  const connection = socketOf(client);
  connection?.stream?.setKeepAlive?.(connection._keepAlive === true, connection._keepAliveInitialDelayMillis ?? 0);
}
