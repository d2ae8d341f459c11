import { InvalidMessageError, UnknownSubscriptionError } from './errors.ts';

/** How deep a cause chain is looked into (a driver's error wrapped by brigade's). */
const MAX_DEPTH = 5;

/**
 * Whether `error`, met while creating or reading a subscription, is one that asking again does not
 * change: the subscription unknown, a name or pattern the bus refuses, or PostgreSQL's answer that the
 * bus's tables are not there or not open to this role (SQLSTATE class 42, or 3F000 no such schema: a
 * database never migrated, which the worker's caller says as such). Anything else (a database or
 * broker that refused the connection, was down, was starting up or cut it) may pass: a worker that
 * starts before its database reports it and tries again.
 *
 * @example
 * await ensureSubscriptions(transport, [spec], { signal, onError, giveUpOn: isLastingBusError });
 */
export function isLastingBusError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < MAX_DEPTH; e = e.cause, depth++) {
    if (e instanceof UnknownSubscriptionError || e instanceof InvalidMessageError) return true;
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string' && /^(42[0-9A-Z]{3}|3F000)$/.test(code)) return true;
  }
  return false;
}
