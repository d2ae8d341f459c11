import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { eventually } from './eventually.ts';

/** The root of the tree the tests run from: under `npm test`, the compiled mirror of the checkout (scripts/compileForTests.ts). */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
/** The `brigade` command of that tree: under `npm test`, the mirror's, which runs the compiled CLI without tsx. */
export const brigadeBin = path.join(repoRoot, 'bin', 'brigade.js');
/** The checkout's own `brigade` command, as `npx brigade` runs it (tsx's loader, then src/cli/bin.ts). */
export const checkoutBrigadeBin = path.join(path.dirname(realpathSync(path.join(repoRoot, 'package.json'))), 'bin', 'brigade.js');

/** The result of one `brigade` run. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A `brigade` child process: its exit (code, signal and everything it printed), and what it printed so far. */
export interface SpawnedCli {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<CliResult & { readonly signal: NodeJS.Signals | null }>;
  /** Whether it has exited. */
  gone(): boolean;
  /** Its stdout and stderr so far. */
  output(): string;
}

/** Starts `brigade …args` as a real child process with exactly `env` (plus PATH, HOME and LOG_LEVEL=warn unless given). */
export function spawnCli(args: readonly string[], env: Record<string, string | undefined> = {}): SpawnedCli {
  const child = spawn(process.execPath, [brigadeBin, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
  });
  let stdout = '';
  let stderr = '';
  let gone = false;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      gone = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, exited, gone: () => gone, output: () => `${stdout}\n${stderr}` };
}

/** Runs `brigade …args` as a real child process with exactly `env` (plus PATH and HOME) to its exit. */
export function runCli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return spawnCli(args, env).exited;
}

/**
 * Runs `brigade …args` in this process through the same `main()` the binary calls (the binary only
 * adds `process.exit(code)`): no start-up cost, for the many cases that need no process of their own.
 */
export async function runMain(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.ts');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { LOG_LEVEL: 'warn', ...env }, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/**
 * Waits until a connection of a brigade process (`application_name` `brigade`) waits on a lock, as
 * seen by `client` (a session of the same server): a test that holds a lock knows the process is stuck
 * behind it.
 */
export async function brigadeWaitsOnLock(client: pg.Client, what: string): Promise<void> {
  await eventually(
    what,
    async () => (await client.query<{ n: number }>(`select count(*)::int as n from pg_locks l join pg_stat_activity a using (pid) where not l.granted and a.application_name = 'brigade'`)).rows[0]?.n ?? 0,
    (n) => n > 0,
    30_000,
  );
}
