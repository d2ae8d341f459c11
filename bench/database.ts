import pg from 'pg';

/** The server the benchmarks run on, as an admin connection: `DATABASE_URL`, default the local one. */
export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The connection string of database `name` on the admin connection's server. */
export function databaseUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs one statement on a connection of its own to the admin database. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await c.query<R>(sql, values);
  } finally {
    await c.end();
  }
}

/** Drops database `name` if it exists (connections to it are ended). */
export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
}

/** Creates database `name` empty, dropping an earlier one of that name; resolves with its URL. */
export async function freshDatabase(name: string): Promise<string> {
  await dropDatabase(name);
  await adminQuery(`create database "${name}"`);
  return databaseUrl(name);
}

/**
 * Waits until every event of `ordering.events` is below the oldest running transaction, so that reads see the whole
 * log: transaction ids are cluster-wide, and another session's open write transaction holds the bound
 * back (decision 0011), which would make a variant read part of the log.
 */
export async function waitUntilReadable(pool: pg.Pool): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (let waited = false; ; waited = true) {
    const { rows } = await pool.query<{ ok: boolean }>('select pg_snapshot_xmin(pg_current_snapshot()) > (select max(transaction_id) from ordering.events) as ok');
    if (rows[0]?.ok === true) return;
    if (!waited) console.log('  (an open transaction elsewhere holds the read bound back; waiting)');
    if (Date.now() > deadline) throw new Error('the log did not become readable within 5 minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
