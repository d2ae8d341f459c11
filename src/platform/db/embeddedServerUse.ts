import pg from 'pg';
import { processIsAlive } from './postmaster.ts';

/**
 * The session advisory lock (two-int key space: 'brgd', 'user') that each brigade process using an
 * embedded server holds in shared mode, on a connection of its own, for as long as it uses it. The
 * lock goes with the session, so a process that died (even by SIGKILL) no longer counts.
 */
const USE_LOCK = [0x6272_6764, 0x7573_6572] as const;

/** How other processes see this one's session: the pid tells whether it still runs. */
const APPLICATION_NAME = `brigade (pid ${process.pid})`;

/** This process's use of an embedded server: a session holding {@link USE_LOCK} in shared mode. */
export interface ServerUse {
  /**
   * The other brigade processes that use the server now, as `brigade (pid N)`. One that has just died
   * is left out although its session may not have ended yet (the server notices a closed connection
   * only when it next reads from it): the server is local, so its pid tells.
   */
  others(): Promise<string[]>;
  /** Ends the session (and with it this process's use). */
  end(): Promise<void>;
}

/**
 * Opens a session on the server at `url` and takes the use lock in shared mode. Answers `null` when
 * another session holds it exclusively (a process that is about to stop the server).
 */
export async function useEmbeddedServer(url: string): Promise<ServerUse | null> {
  const client = new pg.Client({ connectionString: url, application_name: APPLICATION_NAME });
  // The session ends with the server (a fast shutdown terminates it): not a crash of this process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const taken = await client.query<{ ok: boolean }>('select pg_try_advisory_lock_shared($1, $2) as ok', [...USE_LOCK]);
    if (taken.rows[0]?.ok !== true) {
      await client.end();
      return null;
    }
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return {
    others: async () => {
      const rows = await client.query<{ name: string }>(
        `select coalesce(nullif(a.application_name, ''), 'backend ' || l.pid) as name
           from pg_locks l left join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted and l.objsubid = 2
            and l.classid = $1::int8::oid and l.objid = $2::int8::oid and l.pid <> pg_backend_pid()
          order by l.pid`,
        [...USE_LOCK],
      );
      return rows.rows.map((r) => r.name).filter((name) => {
        const pid = /^brigade \(pid (\d+)\)$/.exec(name)?.[1];
        return pid === undefined || processIsAlive(Number(pid));
      });
    },
    end: () => client.end().catch(() => undefined),
  };
}
