import { InvalidMessageError } from './errors.ts';
import type { OutgoingMessage } from './types.ts';
import { isUuid } from '../ids/index.ts';

const SUBSCRIPTION = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;
const SCHEMA = /^[a-z][a-z0-9_]{0,40}$/;

/** Throws unless `name` is a usable subscription (JetStream durable) name. */
export function validateSubscription(name: string): void {
  if (!SUBSCRIPTION.test(name)) throw new InvalidMessageError(`Subscription names are [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(name)}`, 'subscription');
}

/** Refuses a name that is not a service's schema (the inbox's, for its SQL): lower-case letters, digits, `_`. */
export function validateServiceSchema(schema: string): void {
  if (!SCHEMA.test(schema)) throw new InvalidMessageError(`Not a service schema: ${JSON.stringify(schema)}`, 'schema');
}

/** Throws unless `pattern` is a NATS subject pattern: tokens, `*` for one token, a final `>` for the rest. */
export function validatePattern(pattern: string): void {
  const tokens = pattern.split('.');
  const ok = tokens.every((t, i) => TOKEN.test(t) || t === '*' || (t === '>' && i === tokens.length - 1));
  if (!ok) throw new InvalidMessageError(`Not a subject pattern: ${JSON.stringify(pattern)}`, 'pattern');
}

/** A header name both transports carry: printable ASCII (33–126) without ':', as NATS requires. */
export const HEADER_NAME = /^[!-9;-~]+$/;
/** A value NATS would not carry unchanged: a line break, or white space at either end (values are sent trimmed). */
const HEADER_VALUE_ALTERED = /[\r\n]|^\s|\s$/;

/**
 * What of a message's headers and aggregate key (the key rides as a header on NATS) a transport
 * cannot carry unchanged, or null. The outbox checks this when a message is written, so that no row
 * reaches the relay that the broker would refuse, stalling every row behind it.
 *
 * @example
 * headerProblem({ tenant: 't\n' }, 'order-1') // { field: 'headers.tenant', message: 'Header tenant has a line break or white space at an end' }
 */
export function headerProblem(headers: Readonly<Record<string, unknown>>, key: string): { field: string; message: string } | null {
  if (HEADER_VALUE_ALTERED.test(key)) return { field: 'key', message: 'The aggregate key has a line break or white space at an end' };
  for (const name in headers) {
    const value = headers[name];
    if (!HEADER_NAME.test(name)) return { field: 'headers', message: `Header name ${JSON.stringify(name)} is not printable ASCII without ':'` };
    if (typeof value !== 'string') return { field: `headers.${name}`, message: `Header ${name} must be a string` };
    if (HEADER_VALUE_ALTERED.test(value)) return { field: `headers.${name}`, message: `Header ${name} has a line break or white space at an end` };
  }
  return null;
}

/** Throws unless the message has a UUID id, a `<service>.<aggregate>.<type>` subject, and a key and headers both transports carry ({@link headerProblem}). */
export function validateMessage(message: OutgoingMessage): void {
  if (!isUuid(message.id)) throw new InvalidMessageError(`Message id must be a UUID, got ${JSON.stringify(message.id)}`, 'id');
  const tokens = message.subject.split('.');
  if (tokens.length < 3 || !tokens.every((t) => TOKEN.test(t))) {
    throw new InvalidMessageError(`Subjects are <service>.<aggregate>.<type>, got ${JSON.stringify(message.subject)}`, 'subject');
  }
  if (typeof message.key !== 'string' || message.key === '') throw new InvalidMessageError('Every message needs an aggregate key', 'key');
  const problem = headerProblem(message.headers, message.key);
  if (problem !== null) throw new InvalidMessageError(problem.message, problem.field);
}

/**
 * The pattern as a PostgreSQL regular expression (anchored), so the database can match subjects to
 * subscriptions in the publishing statement. Tokens are [A-Za-z0-9_-] only, so nothing needs escaping.
 */
export function patternToRegex(pattern: string): string {
  validatePattern(pattern);
  const parts = pattern.split('.').map((t) => (t === '*' ? '[^.]+' : t === '>' ? '.+' : t.replaceAll('-', '\\-')));
  return `^${parts.join('\\.')}$`;
}
