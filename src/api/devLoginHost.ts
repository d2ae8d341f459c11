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

/** Headers a reverse proxy adds to what it forwards (RFC 7239 and the de-facto ones). */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'] as const;

/**
 * The first forwarding header `headers` carries (`Forwarded`, `X-Forwarded-For`, `X-Forwarded-Host`,
 * `X-Real-IP`), or `undefined`. A reverse proxy on this machine reaches a loopback listener with a
 * loopback `Host` of its own (nginx's default `Host: $proxy_host`), so only these tell that the
 * request came from elsewhere.
 *
 * @example
 * forwardedBy({ 'x-forwarded-for': '203.0.113.7' }); // 'x-forwarded-for'
 * forwardedBy({ host: 'localhost:3000' }); // undefined
 */
export function forwardedBy(headers: Readonly<Record<string, unknown>>): string | undefined {
  return FORWARDING_HEADERS.find((name) => headers[name] !== undefined);
}

/**
 * 403: the development login's token route was reached through a reverse proxy (the request carries
 * a forwarding header). The route hands any token out without credentials, so it answers only
 * requests made on this machine.
 */
export class DevLoginProxiedError extends BrigadeError {
  constructor(header: string) {
    super(
      'DEV_LOGIN_PROXIED',
      403,
      `The development login mints tokens only for requests made on this machine; this one came through a proxy (it carries ${header}); ` +
        'open the page on this machine as http://localhost:<port>/dev-login, or mint a token with `brigade token` (see `brigade token --help`)',
      { details: { header } },
    );
  }
}
