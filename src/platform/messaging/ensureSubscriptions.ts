import { sleep } from '../runtime/sleep.ts';
import type { SubscriptionSpec, Transport } from './types.ts';

/**
 * Creates every subscription in `specs` (`ensureSubscription`, which keeps an existing one's place),
 * trying again every `retryMs` until all exist or `signal` aborts: the bus may not be reachable or
 * migrated yet. A publisher calls it before its first publish, since a subscription gets only what is
 * published after its creation (decision 0015); a consumer before it subscribes, with `giveUpOn` ({@link runConsumer} does both).
 *
 * @param options.giveUpOn - errors thrown rather than tried again: a consumer gives up on a database
 *   never migrated ({@link isLastingBusError}), which `brigade worker` then says, and waits only for
 *   one that does not answer yet. Default: every error is tried again (a relay waits for the migration).
 * @example
 * await ensureSubscriptions(transport, [{ subscription: 'delivery-dispatch', pattern: 'ordering.order.*' }], { signal, onError: warn });
 */
export async function ensureSubscriptions(
  transport: Pick<Transport, 'ensureSubscription'>,
  specs: readonly SubscriptionSpec[],
  options: { readonly signal: AbortSignal; readonly onError?: (error: unknown) => void; readonly retryMs?: number; readonly giveUpOn?: (error: unknown) => boolean },
): Promise<void> {
  while (!options.signal.aborted) {
    try {
      for (const spec of specs) await transport.ensureSubscription(spec);
      return;
    } catch (error) {
      if (options.giveUpOn?.(error) === true) throw error;
      options.onError?.(error);
      await sleep(options.retryMs ?? 1000, options.signal);
    }
  }
}
