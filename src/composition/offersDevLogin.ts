import { isLoopbackHost } from '../api/devLoginHost.ts';

/**
 * Whether the platform offers the development login (`/dev-login`, which mints any token, an admin's
 * included, without credentials): only on the embedded database AND bound to a loopback interface.
 * `HOST=0.0.0.0` with the embedded database would otherwise hand admin tokens to anyone who can reach
 * the port. (Its token route also refuses a request whose `Host` is not loopback: DNS rebinding.)
 */
export function offersDevLogin(host: string, embedded: boolean): boolean {
  return embedded && isLoopbackHost(host);
}
