import type { CommitStatementsFn, UnitOfWorkContext } from '../db/index.ts';
import { prepareStreamRead, type ReadStreamOptions, type StreamRead } from './readStream.ts';
import type { StoreConfig } from './storeConfig.ts';

/**
 * Reads one stream as a read-only transaction of its own in ONE round trip (`commit` is
 * `commitStatements` or the tenant router's, which adds the tenant fence): BEGIN READ ONLY, the
 * settings, the read and COMMIT leave as one batch, where a unit of work needs a second round trip for
 * its COMMIT. The read of a command: read, decide, then `appendAndCommit` with the version read.
 * `context` (its tenant unless `options.tenantId`) is as for a unit of work; it runs read-only whatever it says.
 *
 * @example
 * const { events, version } = await store.readStreamAndCommit(commitStatements, context, `order-${id}`);
 */
export async function readStreamAndCommit(
  config: StoreConfig,
  commit: CommitStatementsFn,
  context: UnitOfWorkContext,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<StreamRead> {
  const read = prepareStreamRead(config, options.tenantId ?? context.tenantId, streamId, options);
  const [result] = await commit({ ...context, readOnly: true }, [read.statement]);
  return read.result(result!);
}
