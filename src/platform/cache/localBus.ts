import { EventEmitter } from 'node:events';

/**
 * The in-process eviction broadcast for memory mode (no Redis): every cache of a namespace in this
 * process hears every eviction, synchronously, before `evict()` returns. One process only; with
 * several processes, set REDIS_URL.
 */
const bus = new EventEmitter();
bus.setMaxListeners(0);

/** Subscribes to a namespace's evictions; returns the unsubscribe function. */
export function onLocalEviction(namespace: string, listener: (keys: readonly string[], from: string) => void): () => void {
  bus.on(namespace, listener);
  return () => bus.off(namespace, listener);
}

/** Tells every cache of the namespace in this process (the sender included) that `keys` changed. */
export function publishLocalEviction(namespace: string, keys: readonly string[], from: string): void {
  bus.emit(namespace, keys, from);
}
