import { constants } from 'node:os';
// The modules themselves, not the db and runtime indexes: `brigade --help` and usage errors load no driver.
import { embeddedStoppedBy } from '../platform/db/embeddedPostgres.ts';
import { handOverSignals } from '../platform/runtime/handOverSignals.ts';
import { SHUTDOWN_SIGNALS } from '../platform/runtime/shutdownSignals.ts';

/** Where commands write: plain lines for people (progress, tables), errors on stderr. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** The process's stdout and stderr, each written to only while its reader is there ({@link stopWritingWhenReadersGo}). */
export const processIo: Io = {
  out: (line) => writeLine(process.stdout, line),
  err: (line) => writeLine(process.stderr, line),
};

/** Standard streams whose reader has gone: nothing more is written to them. */
const readerGone = new Set<NodeJS.WriteStream>();

function writeLine(stream: NodeJS.WriteStream, line: string): void {
  if (!readerGone.has(stream)) stream.write(`${line}\n`);
}

/**
 * Where the HTTP server's log lines go (Fastify's pino, as `logger.stream`): stdout, as pino's own
 * destination wrote them, but no more once its reader has gone. Pino's destination let a closed pipe
 * (EPIPE) pass but threw a closed terminal's EIO: after a hang-up, the first request logged during the
 * drain ended `brigade start` there, with the embedded PostgreSQL left running.
 */
export const processLog: { write(text: string): void } = {
  write: (text) => {
    if (!readerGone.has(process.stdout)) process.stdout.write(text);
  },
};

/** The write errors of a reader that went away: a pipe's (`\| head`, `\| grep -q`) and a closed terminal's. */
const READER_GONE_CODES = new Set(['EPIPE', 'EIO']);

/**
 * From now on a reader of stdout or stderr that goes away (`brigade tenants list | head -1` once `head`
 * has its line; the terminal closed) only ends what is written to that stream. Node ignores SIGPIPE,
 * so the next write failed with EPIPE (EIO on a closed terminal) as an unhandled 'error': a stack
 * trace, exit 1, and the `finally` that stops the embedded PostgreSQL never ran (it runs in a process
 * group of its own, so it ran on for nobody). Now the command goes on to its end unheard, closes its
 * databases as usual and exits with its own code (docs/decisions/0003-embedded-postgres.md, "Fixed later
 * (forty-fourth session …)", says why not 141). Any other write error is thrown as before. For the
 * `brigade` binary (bin.ts), once, before the command runs.
 */
export function stopWritingWhenReadersGo(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === undefined || !READER_GONE_CODES.has(error.code)) throw error;
      readerGone.add(stream);
    });
  }
}

let received: NodeJS.Signals | null = null;

/**
 * The shutdown signal a {@link waitForShutdownSignal} of this process has received, or the one on
 * which a one-shot command's embedded PostgreSQL was stopped under it, or null: an error that surfaces
 * after it is the interruption's doing (a migration cut short), not a fault to fix.
 */
export function shutdownSignalReceived(): NodeJS.Signals | null {
  return received ?? embeddedStoppedBy();
}

/** Resolves with the signal's name on the first SIGINT, SIGTERM or SIGHUP ({@link SHUTDOWN_SIGNALS}); a second one exits at once. */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => listenForShutdownSignal(resolve));
}

/**
 * An AbortSignal that aborts, with the signal's name as its reason, on the first SIGINT, SIGTERM or
 * SIGHUP (a second one exits at once), after `onSignal` has said so. For a one-shot command that cancels its work
 * on Ctrl+C rather than dying with a statement left running on the server; `dispose` stops listening
 * once the work is done.
 *
 * @example
 * const stop = abortOnShutdownSignal((signal) => ctx.io.err(`brigade migrate: ${signal}: stopping …`));
 * try { await runMigrations({ ...target, signal: stop.signal }); } finally { stop.dispose(); }
 */
export function abortOnShutdownSignal(onSignal: (signal: NodeJS.Signals) => void): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const dispose = listenForShutdownSignal((signal) => {
    onSignal(signal);
    controller.abort(signal);
  });
  return { signal: controller.signal, dispose };
}

/** A second shutdown signal: exit at once, as the signal would (128 + its number). */
const exitAtOnce = (signal: NodeJS.Signals) => process.exit(128 + (constants.signals[signal] ?? 0));

/** Calls `fn` on the first of the {@link SHUTDOWN_SIGNALS} and from then on exits at once on any; returns a function that stops listening before one came. */
function listenForShutdownSignal(fn: (signal: NodeJS.Signals) => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    received = signal;
    // In before out (`handOverSignals`): a second Ctrl+C pressed right after the first is not lost.
    handOverSignals(SHUTDOWN_SIGNALS, onSignal, exitAtOnce);
    fn(signal);
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  return () => {
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
  };
}
