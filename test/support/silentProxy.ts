import net from 'node:net';

/** A TCP proxy in front of a database that can go silent or slow, made by {@link silentProxy}. */
export interface SilentProxy {
  /** `url` with its host and port replaced by the proxy's. */
  readonly url: string;
  /**
   * From now on nothing is forwarded either way, not even a close, and every socket stays open: the
   * peer of each side sees a connection that is up and never answers, as behind a network that drops
   * packets. Connections made after this are accepted and silent too.
   */
  silence(): void;
  /**
   * From now on what the database sends is held `ms` before it is forwarded, in order (0: at once, after
   * what is held already): a server that answers every command, slowly. What the client sends is not held.
   */
  delayAnswers(ms: number): void;
  /** Destroys every socket (the database's backends then see their client gone) and stops listening. */
  close(): Promise<void>;
}

/**
 * A proxy on 127.0.0.1 in front of the database (or Redis) of `url`, forwarding until {@link SilentProxy.silence}.
 * It listens on `port` when given (a database that "comes up" on a port a client already tries), else
 * on a free one.
 *
 * @example
 * const proxy = await silentProxy(target.url);
 * const moving = moveTenant({ ..., targetUrl: proxy.url, onProgress: (l) => l.startsWith('fenced') && proxy.silence() });
 */
export async function silentProxy(url: string, port = 0): Promise<SilentProxy> {
  const upstream = new URL(url);
  let forwarding = true;
  let answerDelayMs = 0;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((inbound) => {
    track(inbound);
    if (!forwarding) return;
    const outbound = net.connect(Number(upstream.port || 5432), upstream.hostname);
    track(outbound);
    const pipe = (from: net.Socket, to: net.Socket, held: boolean) => {
      const queue: Array<{ chunk: Buffer; at: number }> = [];
      const release = () => {
        const now = Date.now();
        while (queue.length > 0 && queue[0]!.at <= now) {
          const { chunk } = queue.shift()!;
          if (forwarding) to.write(chunk);
        }
        if (queue.length > 0) setTimeout(release, queue[0]!.at - now);
      };
      from.on('data', (chunk: Buffer) => {
        if (!held || (answerDelayMs === 0 && queue.length === 0)) {
          if (forwarding) to.write(chunk);
          return;
        }
        queue.push({ chunk, at: Math.max(Date.now() + answerDelayMs, queue.at(-1)?.at ?? 0) });
        if (queue.length === 1) setTimeout(release, queue[0]!.at - Date.now());
      });
      from.on('end', () => {
        if (forwarding) to.end();
      });
      from.on('close', () => {
        if (forwarding) to.destroy();
      });
    };
    pipe(inbound, outbound, false);
    pipe(outbound, inbound, true);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    silence: () => {
      forwarding = false;
    },
    delayAnswers: (ms) => {
      answerDelayMs = ms;
    },
    close: async () => {
      forwarding = false;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
