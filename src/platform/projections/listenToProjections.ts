import type pg from 'pg';
import { PROJECTION_CHANNEL } from './notifyProjection.ts';
import { parsePosition } from './position.ts';
import type { GlobalPosition } from '../events/index.ts';
import type { Projection } from './types.ts';
import { projectionKey } from './defineProjection.ts';

/** A LISTEN connection shared by every live stream of a process. */
export interface ProjectionListener {
  /**
   * Calls `fn` with the new checkpoint after each batch of `projection` commits (any process), and after
   * a rebuild's swap. Returns the unsubscribe. An error `fn` throws is reported as a process warning and
   * stops neither the other subscribers nor the listener.
   */
  subscribe(projection: Pick<Projection, 'schema' | 'name'>, fn: (checkpoint: GlobalPosition) => void): () => void;
  /** UNLISTEN and give the connection back. */
  close(): Promise<void>;
}

/**
 * Listens on the projections' channel (one NOTIFY per committed batch and per rebuild's swap, sent by
 * `notifyProjection`) on one held connection, and fans the notifications out in-process. Works whether
 * the projector runs in this process or another. If the connection breaks, subscribers are told through
 * `onError`; the caller opens a new listener. A notification on the channel that `notifyProjection` did
 * not send (any role may NOTIFY; its payload need not be `<projection> <position>`) is ignored. If
 * LISTEN fails, the connection goes back to the pool, discarded, and the error is thrown.
 *
 * @example
 * const listener = await listenToProjections(pool);
 * const stop = listener.subscribe(board, (at) => push(at));
 */
export async function listenToProjections(pool: pg.Pool, onError: (error: unknown) => void = () => undefined): Promise<ProjectionListener> {
  const client = await pool.connect();
  const subscribers = new Map<string, Set<(checkpoint: GlobalPosition) => void>>();
  let broken: Error | undefined;
  const onNotification = (message: pg.Notification) => {
    if (message.channel !== PROJECTION_CHANNEL || message.payload === undefined) return;
    const [key, at] = message.payload.split(' ');
    const fns = subscribers.get(key ?? '');
    if (fns === undefined || at === undefined) return;
    let checkpoint: GlobalPosition;
    try {
      checkpoint = parsePosition(at);
    } catch {
      return;
    }
    for (const fn of fns) {
      try {
        fn(checkpoint);
      } catch (error) {
        const detail = error instanceof Error ? error.stack : String(error);
        process.emitWarning(`a subscriber of projection ${key} threw: ${String(error)}`, { code: 'BRIGADE_PROJECTION_SUBSCRIBER', ...(detail === undefined ? {} : { detail }) });
      }
    }
  };
  const onClientError = (error: Error) => {
    broken = error;
    onError(error);
  };
  client.on('notification', onNotification);
  client.on('error', onClientError);
  try {
    await client.query(`listen ${PROJECTION_CHANNEL}`);
  } catch (error) {
    client.off('notification', onNotification);
    client.off('error', onClientError);
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  return {
    subscribe(projection, fn) {
      const key = projectionKey(projection);
      const set = subscribers.get(key) ?? new Set();
      set.add(fn);
      subscribers.set(key, set);
      return () => {
        set.delete(fn);
      };
    },
    async close() {
      client.off('notification', onNotification);
      if (broken === undefined) {
        await client.query(`unlisten ${PROJECTION_CHANNEL}`).catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      }
      client.off('error', onClientError);
      client.release(broken);
    },
  };
}
