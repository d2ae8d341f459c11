import { EventEmitter } from 'node:events';
import type { EvictionBus, EvictionSubscriber } from './evictionBus.ts';

/**
 * The in-process eviction bus, memory mode's default: every cache of a namespace in this process
 * hears every eviction, synchronously, before `evict()` returns. One process only: with several
 * processes on one database give the caches `createPgEvictionBus(pool)`, or set REDIS_URL.
 */
const bus = new EventEmitter();
bus.setMaxListeners(0);

export const localEvictionBus: EvictionBus = {
  publish(namespace, keys, from) {
    bus.emit(namespace, keys, from);
    return Promise.resolve();
  },
  subscribe(namespace, subscriber: EvictionSubscriber) {
    const listener = (keys: readonly string[], from: string) => subscriber.evicted(keys, from);
    bus.on(namespace, listener);
    return () => bus.off(namespace, listener);
  },
  listening: () => true,
  ready: () => Promise.resolve(),
};
