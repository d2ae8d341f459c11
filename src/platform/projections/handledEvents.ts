import type { Projection } from './types.ts';

/** The events of a page that `projection` handles (its `eventTypes`; all when it names none), in order. */
export function handledEvents<E extends { readonly type: string }>(projection: Pick<Projection, 'eventTypes'>, events: readonly E[]): readonly E[] {
  const types = projection.eventTypes;
  return types === undefined ? events : events.filter((e) => types.has(e.type));
}
