import { randomBytes } from 'node:crypto';
import { newMessageId, type OutgoingMessage } from '../../../src/platform/messaging/index.ts';

/** Polls `check` until it returns true; fails with `what` after `timeoutMs` (a safety net, not a timing claim). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, stepMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A short random token for unique subjects, streams and subscription names. */
export function token(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** A well-formed message on `subject` with `payload`. */
export function message(subject: string, payload: unknown, overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  const id = overrides.id ?? newMessageId();
  return {
    id,
    subject,
    key: `k-${id.slice(-6)}`,
    headers: { correlation: `corr-${id.slice(-4)}`, causation: 'cause-1', tenant: '0198c3a0-0000-7000-8000-000000000001', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    payload,
    ...overrides,
  };
}
