import { InvalidMessageError } from './errors.ts';
import type { OutgoingMessage } from './types.ts';
import { isUuid } from '../ids/index.ts';

const SUBSCRIPTION = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Throws unless `name` is a usable subscription (JetStream durable) name. */
export function validateSubscription(name: string): void {
  if (!SUBSCRIPTION.test(name)) throw new InvalidMessageError(`Subscription names are [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(name)}`, 'subscription');
}

/** Throws unless `pattern` is a NATS subject pattern: tokens, `*` for one token, a final `>` for the rest. */
export function validatePattern(pattern: string): void {
  const tokens = pattern.split('.');
  const ok = tokens.every((t, i) => TOKEN.test(t) || t === '*' || (t === '>' && i === tokens.length - 1));
  if (!ok) throw new InvalidMessageError(`Not a subject pattern: ${JSON.stringify(pattern)}`, 'pattern');
}

/** Throws unless the message has a UUID id and a `<service>.<aggregate>.<type>` subject. */
export function validateMessage(message: OutgoingMessage): void {
  if (!isUuid(message.id)) throw new InvalidMessageError(`Message id must be a UUID, got ${JSON.stringify(message.id)}`, 'id');
  const tokens = message.subject.split('.');
  if (tokens.length < 3 || !tokens.every((t) => TOKEN.test(t))) {
    throw new InvalidMessageError(`Subjects are <service>.<aggregate>.<type>, got ${JSON.stringify(message.subject)}`, 'subject');
  }
  if (typeof message.key !== 'string' || message.key === '') throw new InvalidMessageError('Every message needs an aggregate key', 'key');
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
