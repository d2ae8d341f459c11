import { UnavailableError } from '../../errors/index.ts';
import type { Transport } from '../types.ts';
import { natsServersNamed } from './connectNats.ts';
import { createNatsTransport, type NatsTransportOptions } from './createNatsTransport.ts';

/** Options for {@link createNatsTransportInBackground}: the transport's, and how it is told. */
export interface BackgroundNatsTransportOptions extends NatsTransportOptions {
  /**
   * The wait before the next attempt after a failed one: `first` after the first failure, doubled after
   * each one up to `max`. Default 1 s up to 10 s, so a broker that comes back is taken within 10 s.
   */
  readonly retryMs?: { readonly first: number; readonly max: number };
  /** Called with the first failed attempt's error (what {@link createNatsTransport} threw), not with the retries'. */
  readonly onTrouble?: (error: Error) => void;
  /** Called once the connection is made and the stream set up. */
  readonly onConnected?: () => void;
}

/** A JetStream transport whose connection {@link createNatsTransportInBackground} makes in the background. */
export interface BackgroundNatsTransport extends Transport {
  /**
   * Whether the connection was made and the stream set up. From then on nats.js rides out an outage by
   * itself (it reconnects for ever), and this stays true: what it says is that the transport exists.
   */
  isConnected(): boolean;
}

const DEFAULT_RETRY_MS = { first: 1000, max: 10_000 };

/**
 * The JetStream transport of a process that does not need the broker to do its work: `brigade serve`
 * runs no relay, consumer or saga (requests write to the outbox), and its only use of the broker is an
 * admin's redrive of dead letters. Returned at once; {@link createNatsTransport} is tried in the
 * background, and tried again after a failure (waits from `retryMs.first` doubling to `retryMs.max`),
 * until it succeeds or the transport is closed. Meanwhile `publish`, `ensureSubscription` and
 * `redeliver` reject with an {@link UnavailableError} (503) saying what to do, and `subscribe` throws
 * it; once connected, each call is the real transport's.
 *
 * Only the first failure is reported (`onTrouble`): a broker down for an hour is one line, not one per
 * retry; `onConnected` says when it is over.
 *
 * @example
 * const bus = createNatsTransportInBackground({ servers: config.natsUrl, pool, subjects: ['ordering.>'], onTrouble: (e) => log.warn(e.message) });
 * bus.isConnected(); // false until the broker answers
 */
export function createNatsTransportInBackground(options: BackgroundNatsTransportOptions): BackgroundNatsTransport {
  const { retryMs = DEFAULT_RETRY_MS, onTrouble, onConnected, ...transportOptions } = options;
  const named = natsServersNamed(options.servers);
  let real: Transport | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  const attempt = async (): Promise<void> => {
    try {
      const made = await createNatsTransport(transportOptions);
      // Closed while it connected: nothing is left open behind the process.
      if (closed) return void (await made.close().catch(() => undefined));
      real = made;
      onConnected?.();
    } catch (error) {
      if (closed) return;
      if (failures === 0) onTrouble?.(error instanceof Error ? error : new Error(String(error)));
      const wait = Math.min(retryMs.max, retryMs.first * 2 ** Math.min(failures, 30));
      failures += 1;
      retry = setTimeout(() => void attempt(), wait);
      // The retries alone do not keep a process alive.
      retry.unref();
    }
  };
  void attempt();

  const notConnected = () =>
    new UnavailableError(
      `NATS is not connected at ${named}: this process keeps trying in the background. Check that the server is up (nats-server -js) and that NATS_URL names it, ` +
        'then try again: /health/ready shows "nats" ok once it is connected',
    );
  const connected = (): Transport => {
    if (real === null) throw notConnected();
    return real;
  };
  return {
    kind: 'nats',
    isConnected: () => real !== null,
    publish: async (messages) => connected().publish(messages),
    ensureSubscription: async (spec) => connected().ensureSubscription(spec),
    subscribe: (subscribeOptions, handler) => connected().subscribe(subscribeOptions, handler),
    redeliver: async (subscription, message) => connected().redeliver(subscription, message),
    close: async () => {
      closed = true;
      clearTimeout(retry);
      const made = real;
      real = null;
      await made?.close();
    },
  };
}
