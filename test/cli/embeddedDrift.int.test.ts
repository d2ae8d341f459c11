import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/platform/db/index.ts';
import { runCli, runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { newBrigadeHome } from '../support/embeddedHome.ts';

const database = useTestDatabase();

/** As a build of brigade whose file differed would have left it: an applied file's checksum that is not this file's. */
async function alterAppliedChecksum(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `update brigade_meta.schema_migrations set checksum = repeat('0', 64)
        where (set_name, name) = (select set_name, name from brigade_meta.schema_migrations order by set_name, name limit 1)
        returning set_name || '/' || name as id`,
    );
    return rows[0]?.id ?? assert.fail('no applied migration');
  } finally {
    await client.end();
  }
}

test("an embedded database made by another build: start and migrate say it is the embedded one, to move its directory aside or check out that build; moved aside, the next run starts afresh", async () => {
  const { home, cleanUp } = await newBrigadeHome('brigade-drift-');
  try {
    const dir = path.join(home, 'pg');
    const first = await runCli(['migrate'], { BRIGADE_HOME: home });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const server = await startEmbeddedPostgres({ dir });
    const id = await alterAppliedChecksum(server.url);
    await server.stop();

    for (const args of [['migrate'], ['start'], ['migrate', 'verify']]) {
      const result = await runCli(args, { BRIGADE_HOME: home, PORT: '0' });
      const output = result.stdout + result.stderr;
      assert.equal(result.code, 1, output);
      assert.match(result.stderr, new RegExp(`${id}: changed since it was applied`), output);
      // Before, only a migration author's advice, which the user of the embedded database cannot follow.
      assert.ok(result.stderr.includes(`This is the embedded database in ${dir}, made by another build of brigade`), output);
      assert.ok(result.stderr.includes(`move ${dir} aside`), output);
      assert.match(result.stderr, /its data will not be used/);
      assert.match(result.stderr, /check out the build of brigade that made it/);
      assert.doesNotMatch(result.stderr, /restore the applied file exactly as it was/);
    }

    // The way out works: moved aside, the next migrate makes a new database.
    await fs.rename(dir, `${dir}.old`);
    const afresh = await runCli(['migrate'], { BRIGADE_HOME: home });
    assert.equal(afresh.code, 0, afresh.stdout + afresh.stderr);
  } finally {
    await cleanUp();
  }
});

test('a DATABASE_URL database whose applied file changed keeps the advice for the migration author', async () => {
  const id = await alterAppliedChecksum(database.db.url);
  for (const args of [['migrate'], ['migrate', 'verify']]) {
    const result = await runMain(args, { DATABASE_URL: database.db.url });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`${id}: changed since it was applied`));
    assert.match(result.stderr, /Migrations are forward-only: restore the applied file exactly as it was, and put the change in a new, higher-numbered file/);
    assert.doesNotMatch(result.stderr, /embedded/);
  }
});
