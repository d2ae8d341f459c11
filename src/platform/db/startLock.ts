import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { processIsAlive } from './postmaster.ts';

/** The start locks this process holds: a lock naming this process's pid is held by another call of it, or stale (its pid reused). */
const heldHere = new Set<string>();

/** A held start lock: {@link takeStartLock} answered it. */
export interface StartLock {
  /** Gives the lock up (removes the file). */
  release(): Promise<void>;
}

/**
 * Takes the start lock `file` (`.brigade/pg.lock`), which a process holds from finding no server
 * running on a data directory until it has started one and uses it: creating the password,
 * `initdb` and the first start are one process's, never two at once. Answers the lock, or the pid
 * of the live process that holds it (wait, then look for its server again).
 *
 * The file holds the holder's pid. It is made complete beside the lock and hard-linked into place,
 * which fails when the lock exists (as `open` with `wx` does, but never shows a half-written pid).
 * A lock whose process is gone (killed while it started the server) is stale and taken over: moved
 * aside (atomic, so of two processes taking it over one moves it), and put back if what was moved is
 * not the file that was read (another process had taken it over in between). Not covered: a third
 * process taking the lock in the microseconds between that move and the putting back.
 */
export async function takeStartLock(file: string): Promise<StartLock | { readonly holder: number }> {
  const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (;;) {
      try {
        await fs.link(mine, file);
        heldHere.add(file);
        return {
          release: async () => {
            heldHere.delete(file);
            await fs.rm(file, { force: true });
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const held = await readStartLock(file);
      if (held === null) continue; // released meanwhile
      if (isLiveHolder(file, held.pid)) return { holder: held.pid };
      await removeStaleLock(file, held.ino);
    }
  } finally {
    await fs.rm(mine, { force: true });
  }
}

/**
 * The live process that holds the start lock `file`, or null: none does, or the one that did is gone.
 * A server on the data directory is joined only once no live process holds it: the one that started
 * it holds it until it uses the server itself, so a command joining it at once does not take it for
 * a server left running by a killed brigade.
 */
export async function startLockHolder(file: string): Promise<number | null> {
  const held = await readStartLock(file);
  return held !== null && isLiveHolder(file, held.pid) ? held.pid : null;
}

/** Whether `pid` (0: the file did not hold one) holds the lock `file`: a live process, this one only while it holds it. */
function isLiveHolder(file: string, pid: number): boolean {
  return pid === process.pid ? heldHere.has(file) : pid > 0 && processIsAlive(pid);
}

/** The pid in the lock file and the file's identity (inode), or null when there is no lock. */
async function readStartLock(file: string): Promise<{ pid: number; ino: bigint } | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const { ino } = await handle.stat({ bigint: true });
    const pid = Number((await handle.readFile('utf8')).trim());
    // Unreadable (never written whole: it is linked complete) counts as a process that is gone.
    return { pid: Number.isInteger(pid) && pid > 0 ? pid : 0, ino };
  } finally {
    await handle.close();
  }
}

/** Removes the stale lock `file` if it is still the file (`ino`) that was read. */
async function removeStaleLock(file: string, ino: bigint): Promise<void> {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another process removed it
    throw error;
  }
  try {
    if ((await fs.stat(aside, { bigint: true })).ino !== ino) {
      // Another process took the stale lock over between the read and the move, and holds this one: put it back.
      await fs.link(aside, file).catch(() => undefined);
    }
  } finally {
    await fs.rm(aside, { force: true });
  }
}
