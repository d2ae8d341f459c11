import { END_POOLS_DEADLINE_MS, type CutPool } from '../platform/db/index.ts';

/**
 * The line a shutdown prints on stderr for a pool whose connections `endPools` cut: which pool and
 * database, how many connections, what became of their backends, and what to do next (find the
 * session that held the lock they waited on, by its pid, when PostgreSQL named one).
 *
 * @example
 * for (const pool of await platform.close()) io.err(cutPoolAdvice(pool));
 * // shutdown: the database pool main (db:5432/brigade) still had 1 connection in use 5 s after it began to close: cut (backend 812 cancelled, sockets closed). It waited on a lock held by backend 790: …
 */
export function cutPoolAdvice(cut: CutPool, deadlineMs = END_POOLS_DEADLINE_MS): string {
  const where = cut.address === '' ? cut.label : `${cut.label} (${cut.address})`;
  const count = cut.connections === 1 ? '1 connection' : `${cut.connections} connections`;
  const cancelled = cut.backends.filter((b) => b.cancelled).map((b) => b.pid);
  const missed = cut.backends.filter((b) => !b.cancelled).map((b) => b.pid);
  const fate =
    cut.cancelFailure !== undefined
      ? `sockets closed; their backends could not be cancelled (${cut.cancelFailure}), so a statement still waiting may run once its lock goes, until the server notices the closed session`
      : [
          cancelled.length > 0 ? `${pids('backend', cancelled)} cancelled` : null,
          missed.length > 0 ? `${pids('backend', missed)} not cancelled (gone already)` : null,
          'sockets closed',
        ]
          .filter((part) => part !== null)
          .join(', ');
  const blockers = [...new Set(cut.backends.flatMap((b) => b.blockedBy))];
  const next =
    blockers.length > 0
      ? `It waited on a lock held by ${pids('backend', blockers)}: see ${blockers.length === 1 ? 'that session' : 'those sessions'} with select pid, application_name, client_addr, state, xact_start, query from pg_stat_activity where pid ${blockers.length === 1 ? `= ${blockers[0]}` : `in (${blockers.join(', ')})`}; ` +
        `end ${blockers.length === 1 ? 'it' : 'one'} (select pg_terminate_backend(${blockers.length === 1 ? blockers[0] : '<pid>'})) if it should not be open, or let it finish before stopping brigade next time.`
      : 'PostgreSQL named no lock it waited on: a long statement or a request that kept its connection (the log has the request); check pg_stat_activity for sessions that hold locks long (state idle in transaction).';
  return `shutdown: the database pool ${where} still had ${count} in use ${deadlineMs / 1000} s after it began to close: cut (${fate}). ${next}`;
}

/** `backend 12` or `backends 12, 13`. */
const pids = (noun: string, list: readonly number[]): string => `${noun}${list.length === 1 ? '' : 's'} ${list.join(', ')}`;
