import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { UnavailableError } from '../../errors/index.ts';
import { redact } from '../../config/index.ts';

/**
 * Connects to the NATS server(s) at `servers` (`NATS_URL`) with `options`. A server that cannot be
 * reached fails with an {@link UnavailableError} that names it (redacted) and says the way out: start it,
 * or unset `NATS_URL` for the PostgreSQL bus. The one connect of the JetStream transport and of the
 * start-up check (`checkNatsReachable`), so both say it in the same words.
 *
 * @example
 * const nc = await connectNats(config.natsUrl, { name: 'brigade', maxReconnectAttempts: -1 });
 */
export async function connectNats(servers: string | readonly string[], options: Omit<ConnectionOptions, 'servers'> = {}): Promise<NatsConnection> {
  try {
    return await connect({ ...options, servers: typeof servers === 'string' ? servers : [...servers] });
  } catch (cause) {
    throw new UnavailableError(`NATS is not reachable at ${natsServersNamed(servers)}: start it (nats-server -js), or unset NATS_URL to use the PostgreSQL bus`, { cause });
  }
}

/** The servers of `NATS_URL` as a message may show them: each without its credentials, comma-separated. */
export function natsServersNamed(servers: string | readonly string[]): string {
  return (typeof servers === 'string' ? [servers] : [...servers]).map(redact).join(', ');
}
