import { isIP } from 'node:net';
import { BrigadeError } from '../platform/errors/index.ts';

/**
 * Whether `host` names this machine's loopback: `localhost`, `127.x.x.x`, `::1` (also as `[::1]` and
 * `::ffff:127.…`), with or without a port. Takes a bind address (`HOST`) or a request's `Host` header.
 *
 * @example
 * isLoopbackHost('localhost:3000'); // true
 * isLoopbackHost('[::1]:3000'); // true
 * isLoopbackHost('evil.example:3000'); // false
 */
export function isLoopbackHost(host: string): boolean {
  const given = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d*)?$/.exec(given);
  // An IPv6 address without brackets (a bind address) has no port; anything else may end in one.
  const bare = bracketed !== null ? (bracketed[1] as string) : isIP(given) === 6 ? given : given.replace(/:\d*$/, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(bare);
  return false;
}

/**
 * 403: the development login's token route was asked under a host name that is not loopback. The
 * route mints any token without credentials and is bound to loopback only; a page in the developer's
 * browser whose own name resolves to 127.0.0.1 (DNS rebinding) could otherwise call it as same-origin,
 * with its own name in `Host`.
 */
export class DevLoginHostError extends BrigadeError {
  constructor(host: string | undefined) {
    super(
      'DEV_LOGIN_HOST_REFUSED',
      403,
      `The development login mints tokens only for a page opened at localhost, 127.0.0.1 or [::1]; this request named ${host === undefined ? 'no host' : `host ${JSON.stringify(host.slice(0, 100))}`}. ` +
        'Open the page as http://localhost:<port>/dev-login (a page under another name may be a DNS-rebinding attack)',
      { details: { host: host?.slice(0, 100) ?? null } },
    );
  }
}
