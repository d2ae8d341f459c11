import { BrigadeError } from '../errors/index.ts';

/** 503: `getOrLoad` was called on a cache after `close()`; a wiring bug, never a Redis outage. */
export class CacheClosedError extends BrigadeError {
  constructor(namespace: string) {
    super('CACHE_CLOSED', 503, `The cache ${JSON.stringify(namespace)} is closed`, { details: { namespace } });
  }
}
