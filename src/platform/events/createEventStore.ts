import type pg from 'pg';
import type { CommitStatementsFn, Tx, UnitOfWorkContext } from '../db/index.ts';
import { appendAndCommit, type AppendAndCommitOptions } from './appendAndCommit.ts';
import { appendToStream } from './appendToStream.ts';
import type { AppendOptions, AppendResult } from './prepareAppend.ts';
import { readAll, type AllRead, type ReadAllOptions } from './readAll.ts';
import { readStream, type ReadStreamOptions, type StreamRead } from './readStream.ts';
import { readStreamAndCommit } from './readStreamAndCommit.ts';
import { resolveStoreConfig, type EventStoreOptions } from './storeConfig.ts';
import { subscribeToAll, type Subscription, type SubscriptionOptions } from './subscribeToAll.ts';
import type { ExpectedVersion, NewEvent } from './types.ts';

/**
 * An event store bound to one schema. Reads and `append` run in the caller's transaction;
 * `appendAndCommit` is a transaction of its own (sent through the `commit` function given), and
 * `subscribe` polls on a pool.
 */
export interface EventStore {
  /** The schema it works on. */
  readonly schema: string;
  /**
   * Appends events to a stream of the transaction's tenant if it is at `expectedVersion` (0 = new
   * stream). One round trip. Throws `ConcurrencyError` (code `CONCURRENCY_CONFLICT`) otherwise.
   */
  append(tx: Tx, streamId: string, events: readonly NewEvent[], expectedVersion: ExpectedVersion, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends as a transaction of its own, in ONE round trip with its `onAppend` statements
   * (`commit`: `commitStatements` bound to a pool, or the tenant router's). Same checks and errors.
   */
  appendAndCommit(
    commit: CommitStatementsFn,
    context: UnitOfWorkContext,
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion,
    options?: AppendAndCommitOptions,
  ): Promise<AppendResult>;
  /** Reads one stream in version order, upcast. */
  readStream(tx: Tx, streamId: string, options?: ReadStreamOptions): Promise<StreamRead>;
  /**
   * Reads one stream as a read-only transaction of its own in ONE round trip (`commit` as for
   * `appendAndCommit`): the read of a command that then appends with `appendAndCommit`.
   */
  readStreamAndCommit(commit: CommitStatementsFn, context: UnitOfWorkContext, streamId: string, options?: ReadStreamOptions): Promise<StreamRead>;
  /** Reads the global order after a checkpoint, never past the oldest running transaction. */
  readAll(tx: Tx, options?: ReadAllOptions): Promise<AllRead>;
  /** A polling subscriber over `readAll` with a stop signal. */
  subscribe(pool: pg.Pool, options: SubscriptionOptions): Subscription;
}

/**
 * Binds the event store's operations to one schema (made by `eventStoreSchemaSql`), its upcasters,
 * clock and append hooks (`appendSql`: SQL in the append's own statement, e.g. `outboxAppendSql`;
 * `onAppend`: statements that commit with every append).
 *
 * @example
 * const store = createEventStore({ schema: 'ordering', upcasters });
 * await unitOfWork(pool, { service: 'ordering', tenantId, actor }, async (tx) => {
 *   const { events, version } = await store.readStream(tx, `order-${id}`);
 *   const order = fold(events);
 *   await store.append(tx, `order-${id}`, decide(order, command), version);
 * });
 */
export function createEventStore(options: EventStoreOptions): EventStore {
  const config = resolveStoreConfig(options);
  return Object.freeze({
    schema: config.schema,
    append: (tx: Tx, streamId: string, events: readonly NewEvent[], expectedVersion: ExpectedVersion, appendOptions?: AppendOptions) =>
      appendToStream(config, tx, streamId, events, expectedVersion, appendOptions),
    appendAndCommit: (
      commit: CommitStatementsFn,
      context: UnitOfWorkContext,
      streamId: string,
      events: readonly NewEvent[],
      expectedVersion: ExpectedVersion,
      appendOptions?: AppendAndCommitOptions,
    ) => appendAndCommit(config, commit, context, streamId, events, expectedVersion, appendOptions),
    readStream: (tx: Tx, streamId: string, readOptions?: ReadStreamOptions) => readStream(config, tx, streamId, readOptions),
    readStreamAndCommit: (commit: CommitStatementsFn, context: UnitOfWorkContext, streamId: string, readOptions?: ReadStreamOptions) =>
      readStreamAndCommit(config, commit, context, streamId, readOptions),
    readAll: (tx: Tx, readOptions?: ReadAllOptions) => readAll(config, tx, readOptions),
    subscribe: (pool: pg.Pool, subscriptionOptions: SubscriptionOptions) => subscribeToAll(config, pool, subscriptionOptions),
  });
}
