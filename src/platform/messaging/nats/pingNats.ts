import { checkNatsReachable } from './checkNatsReachable.ts';

/** How long {@link pingNats} waits for a server that does not answer: as the database's ping. */
export const NATS_PING_TIMEOUT_MS = 2000;

/**
 * Asks whether a NATS server of `servers` (`NATS_URL`'s list) takes a connection within `timeoutMs`
 * (default 2 s), and closes it: `null` when one did, else why not. For a process that starts without
 * the broker (`brigade serve`) to say so in one line; a process that needs it is refused by
 * {@link checkNatsReachable} instead.
 *
 * @example
 * if ((await pingNats(config.natsUrl)) !== null) io.err('warning: NATS_URL did not answer …');
 */
export async function pingNats(servers: string | readonly string[], timeoutMs = NATS_PING_TIMEOUT_MS): Promise<string | null> {
  try {
    await checkNatsReachable(servers, { timeoutMs });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
