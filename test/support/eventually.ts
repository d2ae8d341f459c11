import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

/**
 * How long an order's messages may take through the relays, the broker and the consumers: the
 * relay reads below the cluster-wide oldest running transaction (decision 0011), so other test
 * files' open transactions delay it. A bound for waiting, never a measurement.
 */
export const FLOW_MS = 120_000;

/** A value as JSON (bigints marked), or, where JSON cannot hold it (an HTTP response: circular), as `util.inspect` shows it. */
function describe(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    const body = (value as { body?: unknown } | null)?.body;
    return typeof body === 'string' ? `a response: ${body.slice(0, 2000)}` : inspect(value, { depth: 2 });
  }
}

/** Polls `read` every 100 ms until `done(value)` holds (bounded by {@link FLOW_MS}); returns the value. */
export async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = FLOW_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last seen: ${describe(last)}`);
    await sleep(100);
    last = await read();
  }
  return last;
}


/** `promise`, or a rejection naming `what` after `ms`: a hang fails with its name, not the file's timeout. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
