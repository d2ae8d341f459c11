import type { Message, MessageHandler } from './types.ts';

/**
 * Runs a consumer's handler on one message while `beat` keeps the message's lease alive (every
 * third of `leaseMs`, at least every 50 ms), and returns what it threw, or `null` when it succeeded.
 * Shared by both transports: what differs is only how a lease is kept and how the outcome is settled.
 */
export async function runHandler(handler: MessageHandler, message: Message, beat: () => void, leaseMs: number): Promise<unknown> {
  const heartbeat = setInterval(beat, Math.max(50, leaseMs / 3));
  try {
    await handler(message);
    return null;
  } catch (error) {
    return error ?? new Error('handler threw a nullish value');
  } finally {
    clearInterval(heartbeat);
  }
}
