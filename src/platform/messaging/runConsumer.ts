import { ensureSubscriptions } from './ensureSubscriptions.ts';
import { isLastingBusError } from './isLastingBusError.ts';
import type { MessageHandler, SubscribeOptions, SubscriptionSpec, Transport } from './types.ts';

/**
 * Runs a service's consumer: creates `spec`'s subscription, then subscribes `handler` to it and
 * resolves once `options.signal` aborted and the handlers in flight finished. While the bus's
 * database or broker does not answer (a worker started before it), creating the subscription is
 * tried again every second and each failure goes to `options.onError`; a database never migrated
 * ({@link isLastingBusError}) rejects, which `brigade worker` reports as such.
 *
 * @param options - the subscribe options other than the subscription's name, which `spec` gives.
 * @example
 * await runConsumer(transport, { subscription: 'delivery-dispatch', pattern: 'ordering.order.*' }, handler, { signal, onError: warn });
 */
export async function runConsumer(
  transport: Transport,
  spec: SubscriptionSpec,
  handler: MessageHandler,
  options: Omit<SubscribeOptions, 'subscription' | 'onError'> & { readonly onError?: ((error: unknown) => void) | undefined },
): Promise<void> {
  const { onError, ...rest } = options;
  const reportTo = onError === undefined ? {} : { onError };
  await ensureSubscriptions(transport, [spec], { signal: options.signal, giveUpOn: isLastingBusError, ...reportTo });
  await transport.subscribe({ ...rest, ...reportTo, subscription: spec.subscription }, handler).done;
}
