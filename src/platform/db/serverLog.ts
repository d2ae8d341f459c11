import fs from 'node:fs/promises';
import type { OsUser } from './embeddedBinaries.ts';

/**
 * How large the server's log (`.brigade/pg.log`) may grow, across starts, before a start moves it to
 * `pg.log.1` (replacing the one there) and begins a new one: the two hold at most this much each, plus
 * what the server that is running writes.
 */
export const SERVER_LOG_KEEP_BYTES = 10 * 1024 * 1024;

/**
 * Readies the log `log` for a server about to start (`pg_ctl -l`, which appends): what the earlier
 * servers wrote stays (why the last one died, say: a PANIC, a crash), followed by a line saying who
 * starts this one and when. A log over {@link SERVER_LOG_KEEP_BYTES} is moved to `<log>.1` first. Made
 * 0600; as root it is handed to `owner` (the `postgres` OS user, which writes it).
 */
export async function openServerLog(log: string, owner: OsUser | undefined): Promise<void> {
  const size = await fs.stat(log).then(
    (s) => s.size,
    () => 0,
  );
  if (size > SERVER_LOG_KEEP_BYTES) await fs.rename(log, `${log}.1`);
  await fs.appendFile(log, `--- ${new Date().toISOString()} brigade (pid ${process.pid}) starts the server ---\n`, { mode: 0o600 });
  if (owner !== undefined) await fs.chown(log, owner.uid, owner.gid);
}
