import { sleep } from '../runtime/sleep.ts';
import type { SubscriptionSpec, Transport } from './types.ts';

/**
 * Creates every subscription in `specs` (`ensureSubscription`, which keeps an existing one's place),
 * trying again every `retryMs` until all exist or `signal` aborts: the bus may not be reachable or
 * migrated yet. A publisher calls it before its first publish, since a subscription gets only what is
 * published after its creation (decision 0015).
 *
 * @example
 * await ensureSubscriptions(transport, [{ subscription: 'delivery-dispatch', pattern: 'ordering.order.*' }], { signal, onError: warn });
 */
export async function ensureSubscriptions(
  transport: Pick<Transport, 'ensureSubscription'>,
  specs: readonly SubscriptionSpec[],
  options: { readonly signal: AbortSignal; readonly onError?: (error: unknown) => void; readonly retryMs?: number },
): Promise<void> {
  while (!options.signal.aborted) {
    try {
      for (const spec of specs) await transport.ensureSubscription(spec);
      return;
    } catch (error) {
      options.onError?.(error);
      await sleep(options.retryMs ?? 1000, options.signal);
    }
  }
}
