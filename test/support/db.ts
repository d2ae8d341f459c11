import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testEnv } from './env.ts';

/** A database of one's own for a test file. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /**
   * Drops the database. Without FORCE on purpose: a pool or client the test left open makes the
   * drop fail, so a leaked connection fails the test file instead of going unnoticed.
   */
  drop(): Promise<void>;
}

/** URL of database `name` on the test server. */
export function urlFor(name: string): string {
  const url = new URL(testEnv.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one statement on the test server's maintenance database. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: testEnv.adminUrl });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/**
 * A new database for this test file: cloned from the migrated template (fast, fully migrated),
 * or empty (`{ empty: true }`) for tests of the migrator itself.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `brigade_t_${testEnv.runId}_${randomBytes(4).toString('hex')}`;
  const template = options.empty === true ? 'template0' : testEnv.template;
  await adminQuery(`create database "${name}" template "${template}"`);
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      try {
        await adminQuery(`drop database if exists "${name}"`);
      } catch (error) {
        const sessions = await adminQuery(`select application_name, state, query from pg_stat_activity where datname = $1`, [name]);
        throw new Error(`the test left ${sessions.rowCount} connection(s) open to its database: ${JSON.stringify(sessions.rows)}`, { cause: error });
      }
    },
  };
}
