import { connectNats } from './connectNats.ts';

/**
 * How long {@link checkNatsReachable} waits for a server that does not answer (one that refuses fails at
 * once): what the transport's own connection waits (nats.js's default), so that a server slow to answer
 * (a slow link, a TLS handshake) that the transport would take is not refused here.
 */
const CHECK_TIMEOUT_MS = 20_000;

/**
 * Fails as the JetStream transport would (the same `UnavailableError`, from {@link connectNats}) when no server at `servers`
 * accepts a connection: one connection attempt per server (in nats.js's random order; the first that answers will do), no
 * reconnects, at most `timeoutMs` each (default 20 s, as the transport), closed at once. For a process to check before it
 * migrates or starts anything, rather than after.
 *
 * No `maxReconnectAttempts: 0`: with it, nats.js 3.4 (`dodialLoop`) drops a server that failed a first connect twice, and
 * the second removal, no longer finding it, splices off the last server of the list instead: a list whose dead entry was
 * tried first lost its live one and was refused (decision 0016, "Fixed later (forty-fifth session)"). `reconnect: false`
 * alone tries each server once.
 *
 * @example
 * if (config.natsUrl !== null) await checkNatsReachable(config.natsUrl);
 */
export async function checkNatsReachable(servers: string | readonly string[], options: { readonly timeoutMs?: number } = {}): Promise<void> {
  const nc = await connectNats(servers, { name: 'brigade-check', timeout: options.timeoutMs ?? CHECK_TIMEOUT_MS, reconnect: false });
  await nc.close();
}
