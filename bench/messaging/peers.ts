/**
 * The messaging benchmarks' peers, graphile-worker and pg-boss, set up as their documentation says,
 * each sending inside the business transaction. Apart from harness.ts so that the measuring loop can
 * be tested without the bench folder's own dependencies installed.
 */
import { Logger, run as runGraphile } from 'graphile-worker';
import { PgBoss } from 'pg-boss';
import { inTransaction, insertOrder, type BenchSetup } from './harness.ts';

/** At most this many of a peer's errors and warnings are printed per set-up; the rest are counted. */
const PRINTED = 5;

/**
 * Prints a peer's errors and warnings (a pool smaller than its concurrency, a slow query, a backlog):
 * they say when a peer ran below its best, which its figures alone do not. Debug and info are not printed.
 */
function peerLog(peer: string) {
  let seen = 0;
  return {
    report: (level: 'error' | 'warning', message: string) => {
      if (seen++ < PRINTED) console.error(`${peer} ${level}: ${message}`);
      else if (seen === PRINTED + 1) console.error(`${peer}: more errors or warnings, not printed`);
    },
  };
}

/**
 * The peers, each sending inside the business transaction as its documentation says: graphile-worker
 * with `add_job`, pg-boss with `send(…, { db })` on the transaction's client (a queue with notify).
 * `concurrency` handlers each, on a pool of `concurrency + 2` connections (both default to 10, fewer
 * than 16 handlers: graphile-worker warns that this "may lead to non-optimal performance").
 */
export function peerSetups(concurrency: number): Record<'graphile-worker' | 'pg-boss', BenchSetup> {
  const poolSize = concurrency + 2;
  return {
    'graphile-worker': inTransaction(async (url, onHandled) => {
      const log = peerLog('graphile-worker');
      const runner = await runGraphile({
        connectionString: url,
        maxPoolSize: poolSize,
        concurrency,
        noHandleSignals: true,
        pollInterval: 1000,
        logger: new Logger(() => (level, message) => {
          if (level === 'error' || level === 'warning') log.report(level, message);
        }),
        taskList: { bench: async (payload) => onHandled((payload as { n: number }).n) },
      });
      return {
        produce: async (client, n) => {
          await insertOrder(client, n);
          await client.query(`select graphile_worker.add_job('bench', $1::json)`, [JSON.stringify({ n })]);
        },
        stop: () => runner.stop(),
      };
    }),
    'pg-boss': inTransaction(async (url, onHandled) => {
      const log = peerLog('pg-boss');
      const boss = new PgBoss({ connectionString: url, max: poolSize, useListenNotify: true } as ConstructorParameters<typeof PgBoss>[0]);
      boss.on('error', (error: Error) => log.report('error', error.message));
      boss.on('warning', (warning: { message: string }) => log.report('warning', warning.message));
      await boss.start();
      await boss.createQueue('bench', { notify: true } as never);
      const options = { localConcurrency: concurrency, batchSize: 1, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 } as Parameters<typeof boss.work>[1];
      await boss.work<{ n: number }>('bench', options as never, (async (jobs: Array<{ data: { n: number } }>) => {
        for (const j of jobs) onHandled(j.data.n);
      }) as never);
      return {
        produce: async (client, n) => {
          await insertOrder(client, n);
          await boss.send('bench', { n }, { db: { executeSql: (text: string, values?: unknown[]) => client.query(text, values) } } as never);
        },
        stop: () => boss.stop({ graceful: true, wait: true } as never),
      };
    }),
  };
}
