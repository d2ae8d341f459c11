import fs from 'node:fs/promises';
import type pg from 'pg';

/** The settings of a session that say how soon the server notices its client gone, by name (`pg_settings`, in base units). */
export type PeerLossSettings = Record<'tcp_keepalives_idle' | 'tcp_keepalives_interval' | 'tcp_keepalives_count' | 'tcp_user_timeout', string>;

/**
 * The server's side of `client`'s session: its `tcp_keepalives_*` and `tcp_user_timeout`, read on the
 * session itself (settings are per session). Over TCP an unset one reads as the operating system's
 * value (Linux: idle 7200, interval 75, count 9) and `tcp_user_timeout` as 0.
 */
export async function peerLossSettingsOf(client: pg.ClientBase): Promise<PeerLossSettings> {
  const { rows } = await client.query<{ name: keyof PeerLossSettings; setting: string }>(
    `select name, setting from pg_settings where name in ('tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count', 'tcp_user_timeout')`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting])) as PeerLossSettings;
}

/** What {@link peerLossSettingsOf} reads on a session that the server gives up on within about half a minute. */
export const PROBED: PeerLossSettings = { tcp_keepalives_idle: '10', tcp_keepalives_interval: '5', tcp_keepalives_count: '3', tcp_user_timeout: '30000' };

/**
 * Whether the kernel has a keepalive timer on `client`'s own socket (the client probes an idle
 * connection), read from Linux's `/proc/net/tcp` and `tcp6` (the `tr` column is 2 while the
 * keepalive timer is set; `ss -tno` shows it as `timer:(keepalive,…)`). `null` where there is no
 * `/proc/net` (not Linux).
 */
export async function clientKeepsAlive(client: pg.ClientBase): Promise<boolean | null> {
  const socket = (client as unknown as { connection: { stream: { localPort?: number; remotePort?: number } } }).connection.stream;
  const hex = (port: number | undefined) => (port ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const [local, remote] = [hex(socket.localPort), hex(socket.remotePort)];
  let table = '';
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) table += await fs.readFile(file, 'utf8').catch(() => '');
  if (table === '') return null;
  for (const line of table.split('\n')) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when …
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(`:${local}`) === true && fields[2]?.endsWith(`:${remote}`) === true) return fields[5]?.split(':')[0] === '02';
  }
  throw new Error(`no socket from port ${socket.localPort} to ${socket.remotePort} in /proc/net/tcp`);
}

/**
 * The client, among `clients` (a pool's, collected from its `connect` event), whose session holds the
 * advisory lock `pg_advisory_lock(hashtext(space), hashtext(key))`: the projection leader's
 * (`brigade.projection`) or a rebuild's (`brigade.projection-rebuild`). Asked on `admin`.
 */
export async function advisoryLockHolder(admin: pg.Pool, clients: readonly pg.Client[], space: string, key: string): Promise<pg.Client> {
  const { rows } = await admin.query<{ pid: number }>(
    `select pid from pg_locks
      where locktype = 'advisory' and granted and objsubid = 2 and database = (select oid from pg_database where datname = current_database())
        and classid = hashtext($1)::oid and objid = hashtext($2)::oid`,
    [space, key],
  );
  const pid = rows[0]?.pid;
  const holder = clients.find((c) => (c as pg.Client & { processID?: number }).processID === pid);
  if (holder === undefined) throw new Error(`no client of the pool holds the advisory lock ${space}/${key} (held by ${pid ?? 'nobody'})`);
  return holder;
}
