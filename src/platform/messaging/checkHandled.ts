import { describeExhausted } from './describeError.ts';
import { runHandler } from './runHandler.ts';
import type { Message, SubscribeOptions } from './types.ts';

/**
 * Decides a message delivered again past its last attempt, whose last run was never settled (its
 * worker was lost between the handler's commit and the ack, or before the commit): returns `null` when
 * the subscription's `handled` check ({@link SubscribeOptions.handled}, the consumer's inbox) says it
 * was handled, and the transport acks it; otherwise the note its dead letter keeps, which says whether
 * it was not handled (the inbox holds no claim) or its outcome is unknown (no check, or the check
 * failed: parked still, as before, rather than asked again every lease). The check runs while `beat`
 * keeps the message's lease (as a handler's run does). Shared by both transports.
 */
export async function checkHandled(handled: SubscribeOptions['handled'], message: Message, maxAttempts: number, beat: () => void, leaseMs: number): Promise<string | null> {
  if (handled === undefined) return describeExhausted(maxAttempts);
  let answer = false;
  const failure = await runHandler(
    async (m) => {
      answer = await handled(m);
    },
    message,
    beat,
    leaseMs,
  );
  if (failure !== null) return describeExhausted(maxAttempts, 'unknown', failure);
  return answer ? null : describeExhausted(maxAttempts, false);
}
