import { ConfigError, type Config } from './loadConfig.ts';

/**
 * Connections a pool needs beyond those its process keeps for as long as it runs: requests and the
 * workers' own transactions (a projector's batch runs beside its leader's lock, a group commit beside
 * a request) share them. Two, so that one caller that holds a connection while it waits for another
 * (a batch and its wake-up) cannot leave the rest with none.
 */
export const POOL_SIZE_RESERVE = 2;

/** What keeps connections of one database's pool for as long as the process runs. */
export interface HeldConnections {
  /** The pool's label (`main`, or the services that share a `<SERVICE>_DATABASE_URL`), never a URL. */
  readonly database: string;
  /** Each kind of holder, e.g. `{ what: 'outbox relays (leader lock)', count: 5 }`. */
  readonly holders: ReadonlyArray<{ readonly what: string; readonly count: number }>;
}

/** The smallest `DATABASE_POOL_SIZE` for these holders: the most any one pool keeps, plus {@link POOL_SIZE_RESERVE}. */
export function minimumPoolSize(held: readonly HeldConnections[]): number {
  return Math.max(0, ...held.map(kept)) + POOL_SIZE_RESERVE;
}

/**
 * Refuses a `DATABASE_POOL_SIZE` that leaves a pool fewer than {@link POOL_SIZE_RESERVE} connections
 * beside what the process's workers keep: with it, requests would wait for a connection that never
 * comes free (they get 503 `DATABASE_BUSY` after `DATABASE_ACQUIRE_TIMEOUT_MS`) and the workers that
 * do not lead would never run. Every pool has `DATABASE_POOL_SIZE` connections, so the pool that keeps
 * the most decides.
 *
 * @throws {@link ConfigError} naming `DATABASE_POOL_SIZE`, the minimum, and what holds the connections.
 * @example
 * checkPoolSize(config, [{ database: 'main', holders: [{ what: 'outbox relays (leader lock)', count: 5 }] }]); // throws below 7
 */
export function checkPoolSize(config: Pick<Config, 'poolSize'>, held: readonly HeldConnections[]): void {
  const minimum = minimumPoolSize(held);
  if (config.poolSize >= minimum) return;
  const worst = held.reduce<HeldConnections | undefined>((most, h) => (most === undefined || kept(h) > kept(most) ? h : most), undefined);
  const why =
    worst === undefined
      ? ''
      : `: in the ${worst.database} database this process keeps ${kept(worst)} connection(s) for as long as it runs (${worst.holders
          .filter((h) => h.count > 0)
          .map((h) => `${h.count} ${h.what}`)
          .join(', ')}), and requests and the workers' transactions need ${POOL_SIZE_RESERVE} more`;
  throw new ConfigError([{ variable: 'DATABASE_POOL_SIZE', expected: `at least ${minimum}${why}`, got: String(config.poolSize) }]);
}

/** The connections a pool keeps. */
function kept(held: HeldConnections): number {
  return held.holders.reduce((sum, h) => sum + h.count, 0);
}
