import { BrigadeError } from '../errors/index.ts';

/** SQLSTATE classes of a value a PostgreSQL bus cannot store: 22 data exception, 23 integrity constraint violation. */
const REFUSED_VALUE = /^2[23][0-9A-Z]{3}$/;

/**
 * Whether a failed `publish` refused the messages themselves (publishing them again fails again), not
 * a broker or database that did not answer (which a retry mends): a Brigade error of a 4xx status (the
 * transports' `InvalidMessageError`, `MESSAGE_INVALID`), or a PostgreSQL error of a value the bus
 * cannot store. The transports report an outage as `UnavailableError` (503) or as the driver's own
 * connection error; neither is a refusal.
 */
export function isMessageRefusal(error: unknown): boolean {
  if (error instanceof BrigadeError) return error.status >= 400 && error.status < 500;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && REFUSED_VALUE.test(code);
}
