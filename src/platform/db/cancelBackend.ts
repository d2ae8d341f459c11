import pg from 'pg';

/**
 * Makes a session end its running statement within a second of its client going away (a killed CLI),
 * instead of running on and holding its locks: `client_connection_check_interval`, on PostgreSQL 14
 * and later (older servers ignore it). Run it once on a session's own client; it selects the
 * session's backend pid as `pid`, which {@link cancelBackend} needs.
 *
 * @example
 * const pid = (await client.query<{ pid: number }>(CLIENT_CONNECTION_CHECK)).rows[0]!.pid;
 */
export const CLIENT_CONNECTION_CHECK = `select case when current_setting('server_version_num')::int >= 140000 then set_config('client_connection_check_interval', '1s', false) end, pg_backend_pid() as pid`;

/**
 * How long {@link cancelBackend} waits for its side session to open, and then for the cancel's answer, in
 * ms: a database that stopped answering (packets dropped) answers no cancel either, and the caller waits
 * for the cancel before it exits.
 */
const CANCEL_TIMEOUT_MS = 5000;

/**
 * Cancels the statement backend `pid` runs, from a session of its own (the session is busy with that
 * statement); its transaction then fails and rolls back. A failure is left unsaid: ending the busy
 * session ends the backend's work too (and {@link CLIENT_CONNECTION_CHECK} ends it when its client dies).
 * It gives up after {@link CANCEL_TIMEOUT_MS} to connect and as long again for the answer.
 *
 * @param applicationName What `pg_stat_activity` shows for the cancelling session.
 */
export async function cancelBackend(url: string, pid: number, applicationName: string): Promise<void> {
  const side = new pg.Client({ connectionString: url, application_name: applicationName, connectionTimeoutMillis: CANCEL_TIMEOUT_MS, query_timeout: CANCEL_TIMEOUT_MS });
  side.on('error', () => undefined);
  try {
    await side.connect();
    await side.query('select pg_cancel_backend($1)', [pid]);
  } catch {
    // ending the busy session stops the backend as well
  } finally {
    await side.end().catch(() => undefined);
  }
}
