import { isIP } from 'node:net';

/**
 * Whether the platform offers the development login (`/dev-login`, which mints any token, an admin's
 * included, without credentials): only on the embedded database AND bound to a loopback interface.
 * `HOST=0.0.0.0` with the embedded database would otherwise hand admin tokens to anyone who can reach
 * the port.
 */
export function offersDevLogin(host: string, embedded: boolean): boolean {
  return embedded && isLoopback(host);
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(bare);
  return false;
}
