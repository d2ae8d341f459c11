import { BrigadeError } from '../platform/errors/index.ts';
import { constants } from 'node:os';
import { processIo, shutdownSignalReceived, type Io } from './io.ts';
import { MAIN_USAGE, UsageError } from './usage.ts';
import { missingTableOrSchema, notMigratedAdvice } from './notMigrated.ts';
import { ConfiguredDatabaseError } from './databaseErrors.ts';
// The module itself, not the db index: `brigade --help` and usage errors load no driver.
import { DatabaseUnavailableError } from '../platform/db/databaseUnavailable.ts';
import { connectFailureOf } from '../platform/db/connectFailure.ts';
import type { CommandContext } from './commands/types.ts';
// The module itself, not the config index: it loads nothing else.
import { logLevelOf, printsStackTraces } from '../platform/config/logLevelOf.ts';

type Command = { run(args: readonly string[], ctx: CommandContext): Promise<number> };

// Loaded on demand so `brigade --help` and usage errors answer without loading the whole platform.
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: () => import('./commands/start.ts'),
  migrate: () => import('./commands/migrate.ts'),
  serve: () => import('./commands/serve.ts'),
  worker: () => import('./commands/worker.ts'),
  tenants: () => import('./commands/tenants.ts'),
  token: () => import('./commands/token.ts'),
  projections: () => import('./commands/projections.ts'),
  dlq: () => import('./commands/dlq.ts'),
  sagas: () => import('./commands/sagas.ts'),
  demo: () => import('./commands/demo.ts'),
  'payment-provider': () => import('./commands/paymentProvider.ts'),
};

/** Commands that migrate before they touch a table: a missing one there is no reason to run `brigade migrate`. */
const MIGRATES_ITSELF = new Set(['start', 'migrate', 'demo', 'payment-provider']);

/**
 * What to do about a failure to reach or enter a configured database, by its error code. `variable`
 * names the database: `DATABASE_URL` (whose advice offers the embedded PostgreSQL), or the
 * `<SERVICE>_DATABASE_URL` a {@link ConfiguredDatabaseError} names. A restaurant's own database never
 * gets here: its failures say what to do about it themselves.
 */
function connectionAdvice(code: string, variable: string): string | undefined {
  const main = variable === 'DATABASE_URL';
  const advice: Readonly<Record<string, string>> = {
    ECONNREFUSED: `Is PostgreSQL running at ${variable}?${main ? ' Unset DATABASE_URL to use the embedded one.' : ''}`,
    ENOTFOUND: `Check the host name in ${variable}${main ? ', or unset DATABASE_URL to use the embedded PostgreSQL' : ''}.`,
    '3D000': `Create that database (psql -c 'create database <name>'), or point ${variable} at one that exists.`,
    '28000': `Check the user in ${variable}: PostgreSQL does not let it in.`,
    '28P01': `Check the user and password in ${variable}.`,
    // insufficient_privilege: migrating creates schemas and roles (and the commands read every schema).
    '42501': `${variable}'s user must be able to create schemas and roles, e.g. the database owner (CREATEROLE too): point ${variable} at such a user.`,
  };
  return advice[code];
}

/**
 * A configured database (`DATABASE_URL`, a `<SERVICE>_DATABASE_URL`, `DATABASE_REPLICA_URL`) that did
 * not accept a connection, met through a pool (`brigade tenants`, `sagas`, `dlq` …): the variable that
 * names it (several joined with "and", as {@link ConfiguredDatabaseError} names them) and the driver's
 * error. What `migrate` and `start` meet as the driver's error itself, so that the same failure gets the
 * same words and advice from every command, not the 503 an HTTP client gets ("retry in a moment"). A
 * restaurant's own database is not one: its error names it and says what to do itself.
 */
function unreachableConfiguredDatabase(error: unknown): { readonly variable: string; readonly cause: Error } | undefined {
  if (!(error instanceof DatabaseUnavailableError) || error.phase !== 'connect' || !(error.cause instanceof Error)) return undefined;
  if (!/^[A-Z][A-Z_]*_URL(?: \/ [A-Z][A-Z_]*_URL)*$/.test(error.where)) return undefined;
  const variable = error.where.split(' / ').join(' and ');
  // Only where the driver's error has advice of its own (refused, unknown host, …): otherwise (a
  // timeout, a connection cut, a server starting up or full) the pool's message, which names the
  // variable and says whether to retry, says more than the driver's.
  const code = (error.cause as Error & { code?: string }).code;
  if (code === undefined || connectionAdvice(code, variable) === undefined) return undefined;
  return { variable, cause: error.cause };
}

/**
 * A configured database's connection attempt that no PostgreSQL answered (`connectFailureOf`): nothing
 * answered within the time limit (another program's port that keeps the connection: Redis's, say), or
 * the other end closed it while connecting (NATS's port). The driver says "timeout expired" or
 * "Connection terminated unexpectedly", which name neither the variable nor what to check, and have no
 * code for {@link connectionAdvice}. Met as the driver's error itself (`migrate`, `start`), as a
 * {@link ConfiguredDatabaseError}, or as a `DATABASE_UNAVAILABLE` while connecting (a command's pool);
 * never inside another of brigade's errors, whose message says more (the subscriptions of `migrate`).
 */
function silentDatabaseMessage(error: unknown): string | undefined {
  let variable = 'DATABASE_URL';
  if (error instanceof ConfiguredDatabaseError) variable = error.variable;
  else if (error instanceof DatabaseUnavailableError) {
    if (error.phase !== 'connect' || !/^[A-Z][A-Z_]*_URL(?: \/ [A-Z][A-Z_]*_URL)*$/.test(error.where)) return undefined;
    variable = error.where.split(' / ').join(' and ');
  } else if (error instanceof BrigadeError) return undefined;
  const failure = connectFailureOf(error);
  if (failure === undefined) return undefined;
  const embedded = variable === 'DATABASE_URL' ? ' Or unset DATABASE_URL to use the embedded PostgreSQL.' : '';
  return failure.kind === 'silent'
    ? `no PostgreSQL answered at ${variable} (${failure.address}) within ${failure.timeoutMs / 1000} s: is that a PostgreSQL server's port, and is it up?${embedded}`
    : `PostgreSQL at ${variable} (${failure.address}) closed the connection while connecting: is that a PostgreSQL server's port?${embedded}`;
}

/**
 * The `brigade` command line. Returns the exit code: 0 done, 1 failed (the message says what to do
 * next), 2 bad usage (unknown command or flag), with a usage line.
 */
export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Io = processIo): Promise<number> {
  const [name, ...args] = argv;
  // `brigade help migrate` is `brigade migrate --help`.
  if (name === 'help' && args.length === 1 && COMMANDS[args[0] ?? ''] !== undefined) return main([args[0] as string, '--help'], env, io);
  // Help on a command that does not exist is a usage error naming it, not the main usage and exit 0.
  if (name === 'help' && args.length > 0) {
    io.err(args.length === 1 ? `brigade help: unknown command ${JSON.stringify(args[0])}` : `brigade help: one command at a time (got ${args.length})`);
    io.err(MAIN_USAGE.split('\n')[0] ?? '');
    io.err("Run 'brigade --help' for the list of commands.");
    return 2;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    // Asked for, the usage is the answer (stdout, 0); with no command at all it is a usage error (stderr, 2).
    if (name === undefined) io.err(MAIN_USAGE);
    else io.out(MAIN_USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    io.err(`brigade: unknown command ${JSON.stringify(name)}`);
    io.err(MAIN_USAGE.split('\n')[0] ?? '');
    io.err("Run 'brigade --help' for the list of commands.");
    return 2;
  }
  try {
    return await (await load()).run(args, { env, io });
  } catch (error) {
    // LOG_LEVEL read as the config reads it (trimmed, any case): stack traces at debug and at trace.
    const stacks = printsStackTraces(logLevelOf(env));
    if (error instanceof UsageError) {
      io.err(`brigade ${name}: ${error.message}`);
      io.err(error.usage.split('\n')[0] ?? '');
      io.err(`Run 'brigade ${name} --help' for details.`);
      return 2;
    }
    // Ctrl+C during start-up makes what was running fail (a migration, a connection): that failure is
    // the interruption, not something to fix, so say so and exit as the signal would (128 + its number).
    const signal = shutdownSignalReceived();
    if (signal !== null) {
      // An interrupted migration says what stays of the file it was on: a no-transaction file cut short
      // keeps the statements it had finished, and those run again next time (not "nothing to fix").
      const migration = error instanceof BrigadeError && error.code === 'MIGRATION_INTERRUPTED';
      io.err(`brigade ${name}: ${migration ? error.message : `interrupted by ${signal} before it finished; nothing to fix: run it again`}`);
      if (stacks) io.err(String((error as Error)?.stack ?? error));
      return 128 + (constants.signals[signal] ?? 0);
    }
    const missing = MIGRATES_ITSELF.has(name) ? undefined : missingTableOrSchema(error);
    if (missing !== undefined) {
      io.err(`brigade ${name}: ${notMigratedAdvice(missing, !env.DATABASE_URL?.trim())}`);
      return 1;
    }
    // A port that takes the connection and never answers, or closes it at once: which variable, which
    // address, and what to check, rather than the driver's "timeout expired".
    const silent = silentDatabaseMessage(error);
    if (silent !== undefined) {
      io.err(`brigade ${name}: ${silent}`);
      if (stacks) io.err(String((error as Error)?.stack ?? error));
      return 1;
    }
    // A configured database's failure says which one; any other driver error is the main database's.
    const unreachable = unreachableConfiguredDatabase(error);
    const variable = error instanceof ConfiguredDatabaseError ? error.variable : (unreachable?.variable ?? 'DATABASE_URL');
    if (error instanceof BrigadeError && !(error instanceof ConfiguredDatabaseError) && unreachable === undefined) {
      io.err(`brigade ${name}: ${error.message}`);
      if (error.cause !== undefined && stacks) io.err(String((error.cause as Error).stack ?? error.cause));
      return 1;
    }
    const e = (error instanceof ConfiguredDatabaseError ? error.cause : (unreachable?.cause ?? error)) as Error & { code?: string };
    const advice = e.code === undefined ? undefined : connectionAdvice(e.code, variable);
    io.err(`brigade ${name}: ${e.message ?? String(error)}${advice === undefined ? '' : `\n${advice}`}`);
    if (stacks) io.err(String(e.stack));
    else io.err('Set LOG_LEVEL=debug for the stack trace.');
    return 1;
  }
}
