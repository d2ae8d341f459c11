/**
 * Where the stand-in payment provider listens when `PROVIDER_PORT` is not set: beside the HTTP API on
 * `PORT` + 1 (`PORT` − 1 at the top of the range, never `PORT` itself; any free port when `PORT` is 0).
 * The one rule for `loadConfig` (where the payments saga calls by default) and `brigade
 * payment-provider` (where a provider started on its own listens), so that the two meet from the
 * same `PORT` with no other setting.
 *
 * @example
 * defaultProviderPort(3000); // 3001
 */
export function defaultProviderPort(port: number): number {
  return port === 0 ? 0 : port === 65535 ? 65534 : port + 1;
}
