import { spawn } from 'node:child_process';
import net from 'node:net';
import { testEnv } from './env.ts';

/**
 * Whether Redis or NATS answers at its URL. Locally a test that needs a missing service is skipped
 * with the reason; in CI (CI set) it fails instead, because nothing may be skipped there.
 *
 * @example
 * const nats = await requireService('nats');
 * test('publishes', { skip: nats.skip }, async () => { … });
 */
export async function requireService(kind: 'redis' | 'nats'): Promise<{ ok: boolean; skip: string | false }> {
  const url = new URL(kind === 'redis' ? testEnv.redisUrl : testEnv.natsUrl);
  const port = Number(url.port || (kind === 'redis' ? 6379 : 4222));
  const banner = await probe(url.hostname, port, kind);
  if (banner) return { ok: true, skip: false };
  const reason = `${kind} is not reachable at ${url.host}; start it or set ${kind === 'redis' ? 'REDIS_URL' : 'NATS_URL'}`;
  if (testEnv.ci) throw new Error(`${reason} (CI is set, so this fails instead of skipping)`);
  return { ok: false, skip: reason };
}

/**
 * Whether a program runs from PATH (`name args` exits 0). Like {@link requireService}: locally a
 * missing one skips with the reason, in CI it fails instead.
 *
 * @example
 * const redisServer = await requireCommand('redis-server', ['--version']);
 * describe('degraded mode', { skip: redisServer.skip }, () => { … });
 */
export async function requireCommand(name: string, args: string[]): Promise<{ ok: boolean; skip: string | false }> {
  const runs = await new Promise<boolean>((resolve) => {
    const child = spawn(name, args, { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
  if (runs) return { ok: true, skip: false };
  const reason = `${name} is not installed (not on PATH)`;
  if (testEnv.ci) throw new Error(`${reason} (CI is set, so this fails instead of skipping)`);
  return { ok: false, skip: reason };
}

/** Speaks just enough of each protocol to know a real server answers: Redis PING, NATS INFO. */
function probe(host: string, port: number, kind: 'redis' | 'nats'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      if (kind === 'redis') socket.write('PING\r\n');
    });
    socket.on('data', (chunk) => {
      const text = chunk.toString();
      done(kind === 'redis' ? text.startsWith('+PONG') : text.startsWith('INFO '));
    });
  });
}
