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

/** What {@link ServerUse.leave} found. */
export type Leaving =
  /** No other brigade process uses the server: this session now holds the lock exclusively; stop the server. */
  | { readonly kind: 'last' }
  /** Others use it (as `brigade (pid N)`): leave it running for them. */
  | { readonly kind: 'others'; readonly others: readonly string[] }
  /** The server had already gone. */
  | { readonly kind: 'gone' };

/** This process's use of an embedded server: a session holding {@link USE_LOCK} in shared mode. */
export interface ServerUse {
  /**
   * The other brigade processes that use the server now, as `brigade (pid N)`. One that has just died
   * is left out although its session may not have ended yet (the server notices a closed connection
   * only when it next reads from it): the server is local, so its pid tells.
   */
  others(): Promise<string[]>;
  /**
   * Gives up this use. When no other brigade process uses the server, the session takes the lock
   * exclusively and keeps it (`last`): the caller stops the server, and a process that comes to join
   * meanwhile is refused ({@link useEmbeddedServer} answers `null`) and waits to start a new one.
   * Otherwise the session ends (`others`).
   */
  leave(): Promise<Leaving>;
  /**
   * Resolves when the server stopped under this process: the session ended while it used the server,
   * or {@link ServerUse.leave} found it gone.
   */
  readonly lost: Promise<void>;
  /** Ends the session (and with it this process's use, or its exclusive hold). */
  end(): Promise<void>;
}

/**
 * Opens a session on the server at `url` and takes the use lock in shared mode. Answers `null` when
 * another session holds it exclusively: the last brigade process to leave, about to stop the server.
 */
export async function useEmbeddedServer(url: string): Promise<ServerUse | null> {
  const client = new pg.Client({ connectionString: url, application_name: APPLICATION_NAME });
  let leaving = false;
  let onLost!: () => void;
  const lost = new Promise<void>((resolve) => (onLost = resolve));
  // The session ends with the server (a fast shutdown terminates it): not a crash of this process.
  client.on('error', () => undefined);
  client.on('end', () => {
    if (!leaving) onLost();
  });
  const end = async () => {
    leaving = true;
    await client.end().catch(() => undefined);
  };
  await client.connect();
  try {
    const taken = await client.query<{ ok: boolean }>('select pg_try_advisory_lock_shared($1, $2) as ok', [...USE_LOCK]);
    if (taken.rows[0]?.ok !== true) {
      await end();
      return null;
    }
  } catch (error) {
    await end();
    throw error;
  }
  const others = async () => {
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
  };
  return {
    others,
    leave: async () => {
      leaving = true;
      try {
        // One statement: of two processes leaving at once, one finds the other gone and is last.
        const last = await client.query<{ ok: boolean }>('select pg_advisory_unlock_shared($1, $2), pg_try_advisory_lock($1, $2) as ok', [...USE_LOCK]);
        if (last.rows[0]?.ok === true) return { kind: 'last' };
        const rest = await others();
        if (rest.length === 0) {
          // Only processes that have just died hold it still: their sessions end as soon as the server notices.
          await client.query(`set lock_timeout = '10s'`);
          const waited = await client.query('select pg_advisory_lock($1, $2)', [...USE_LOCK]).then(
            () => true,
            () => false,
          );
          if (waited) return { kind: 'last' };
        }
        await end();
        return { kind: 'others', others: rest };
      } catch {
        // The server stopped under this process (its session ended before it could tell): it is lost.
        onLost();
        await end();
        return { kind: 'gone' };
      }
    },
    lost,
    end,
  };
}
