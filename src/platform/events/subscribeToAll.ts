import type pg from 'pg';
import { unitOfWork } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { readAll } from './readAll.ts';
import type { StoreConfig } from './storeConfig.ts';
import { START, type GlobalPosition, type RecordedEvent } from './types.ts';

/** Options for {@link subscribeToAll}. */
export interface SubscriptionOptions {
  /** The service whose role reads (`brigade_<service>`), e.g. `ordering`. */
  readonly service: string;
  /** The subscriber's name; it reads as actor `{ kind: 'system', id: name }`, so across tenants. */
  readonly name: string;
  /** Start after this checkpoint (the one the subscriber stored). Default {@link START}. */
  readonly after?: GlobalPosition;
  /** Events per read. Default 500. */
  readonly batchSize?: number;
  /** Wait between polls that found nothing new, in ms. Default 250. {@link Subscription.wake} cuts it short. */
  readonly idleMs?: number;
  /**
   * Handles a batch, in global order. The checkpoint advances only when it resolves; to make handling
   * and checkpoint atomic, store `checkpoint` in the same transaction as the handler's writes.
   */
  readonly handler: (events: readonly RecordedEvent[], checkpoint: GlobalPosition) => Promise<void>;
  /** Called with a failed read or handler; the same batch is retried after `idleMs`. Default: `run` rejects. */
  readonly onError?: (error: unknown) => void;
}

/** A running (or steppable) subscription to the global order. */
export interface Subscription {
  /** The checkpoint after the last batch handled. */
  readonly checkpoint: GlobalPosition;
  /**
   * Reads one batch after the checkpoint and hands it to the handler; resolves to the number of events.
   * A call while a poll is in flight (`run`'s, or another caller's) joins that poll: it settles with
   * it (the same count, or the same error) and reads nothing of its own, so one subscription never
   * hands a batch to the handler twice. To read what committed since, poll again once it settled.
   */
  poll(): Promise<number>;
  /** Polls until `signal` aborts: straight on while batches come back full, after `idleMs` otherwise. */
  run(signal: AbortSignal): Promise<void>;
  /** Ends the current idle wait now (call it after a commit that appended events). */
  wake(): void;
}

/**
 * A polling subscriber over {@link readAll}: it never skips an event that commits late and never stalls
 * on one that rolls back, because readAll does not pass the oldest running transaction.
 *
 * @example
 * const sub = store.subscribe(pool, { service: 'ordering', name: 'live-board', after: saved, handler });
 * const stop = new AbortController();
 * await sub.run(stop.signal);
 */
export function subscribeToAll(config: StoreConfig, pool: pg.Pool, options: SubscriptionOptions): Subscription {
  const batchSize = options.batchSize ?? 500;
  const idleMs = options.idleMs ?? 250;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ValidationError('batchSize must be a positive integer', { field: 'batchSize' });
  if (!Number.isFinite(idleMs) || idleMs < 0) throw new ValidationError('idleMs must be a non-negative number', { field: 'idleMs' });
  let checkpoint = options.after ?? START;
  let wakeUp: (() => void) | null = null;
  let woken = false;

  const pollOnce = async (): Promise<number> => {
    const page = await unitOfWork(pool, { service: options.service, actor: { kind: 'system', id: options.name }, readOnly: true }, (tx) =>
      readAll(config, tx, { after: checkpoint, limit: batchSize }),
    );
    if (page.events.length === 0) return 0;
    await options.handler(page.events, page.checkpoint);
    checkpoint = page.checkpoint;
    return page.events.length;
  };

  // Two reads in flight at once would both start from the same checkpoint (it moves only when the
  // handler resolves) and deliver the same batch twice, so a poll while one is in flight joins it.
  let inFlight: Promise<number> | null = null;
  const poll = (): Promise<number> => {
    if (inFlight === null) {
      const current = pollOnce().finally(() => {
        if (inFlight === current) inFlight = null;
      });
      inFlight = current;
    }
    return inFlight;
  };

  const idle = (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (woken || signal.aborted) {
        woken = false;
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, idleMs);
      signal.addEventListener('abort', done, { once: true });
      wakeUp = done;
    });

  return {
    get checkpoint() {
      return checkpoint;
    },
    poll,
    async run(signal) {
      while (!signal.aborted) {
        let handled: number;
        try {
          handled = await poll();
        } catch (error) {
          if (options.onError === undefined) throw error;
          options.onError(error);
          handled = 0;
        }
        if (handled < batchSize) await idle(signal);
      }
    },
    wake() {
      if (wakeUp !== null) wakeUp();
      else woken = true;
    },
  };
}
