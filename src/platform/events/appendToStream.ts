import type { Tx } from '../db/index.ts';
import { prepareAppend, type AppendOptions, type AppendResult } from './prepareAppend.ts';
import type { StoreConfig } from './storeConfig.ts';
import type { ExpectedVersion, NewEvent } from './types.ts';

/**
 * Appends `events` to a stream of the transaction's tenant, in the caller's transaction, if the stream
 * is at `expectedVersion`. The append and the store's `onAppend` statements (outbox rows) go out
 * together, in one batch (one round trip).
 *
 * @throws {ConcurrencyError} the stream is not at `expectedVersion`, or another transaction appended
 *   the same version first (the primary key on (tenant, stream, version) makes exactly one of several
 *   concurrent appends at one version win), or an older transaction tries to append after a newer
 *   one (see decision 0011): the transaction has failed; retry the command in a new one.
 * @throws {ValidationError} no tenant in the unit of work, no events, or a malformed input.
 */
export async function appendToStream(
  config: StoreConfig,
  tx: Tx,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  options: AppendOptions = {},
): Promise<AppendResult> {
  const prepared = prepareAppend(config, tx.context, streamId, events, expectedVersion, options);
  const settled = await Promise.allSettled(prepared.statements.map((s) => tx.query(s)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw prepared.error(failed.reason);
  return prepared.result(settled.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<Tx['query']>>>).value));
}
