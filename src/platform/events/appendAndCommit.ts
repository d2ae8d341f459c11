import type { CommitStatementsFn, Statement, UnitOfWorkContext } from '../db/index.ts';
import { prepareAppend, type AppendOptions, type AppendResult } from './prepareAppend.ts';
import type { StoreConfig } from './storeConfig.ts';
import type { ExpectedVersion, NewEvent } from './types.ts';

/** Options of {@link appendAndCommit}. */
export interface AppendAndCommitOptions extends AppendOptions {
  /** Statements to run after the append (and its `onAppend` statements) in the same transaction, only if it succeeded. */
  readonly extra?: readonly Statement[];
}

/**
 * Appends `events` as a transaction of its own: the settings, the append, the store's `onAppend`
 * statements (outbox rows) and `extra` as one implicit transaction in ONE round trip (`commit` is
 * `commitStatements` or the tenant router's). The usual command shape needs nothing more: read the stream (its own round
 * trip, no transaction held), decide, then append with the version read as the expected one; the
 * version check makes the pair as safe as one transaction.
 *
 * @throws {ConcurrencyError} as `append`; nothing was written.
 */
export async function appendAndCommit(
  config: StoreConfig,
  commit: CommitStatementsFn,
  context: UnitOfWorkContext,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  options: AppendAndCommitOptions = {},
): Promise<AppendResult> {
  const prepared = prepareAppend(config, context, streamId, events, expectedVersion, options);
  const results = await commit(context, [...prepared.statements, ...(options.extra ?? [])]).catch((error: unknown) => {
    throw prepared.error(error);
  });
  return prepared.result(results);
}
