import { constants } from 'node:os';
// The modules themselves, not the db and runtime indexes: `brigade --help` and usage errors load no driver.
import { embeddedStoppedBy } from '../platform/db/embeddedPostgres.ts';
import { handOverSignals } from '../platform/runtime/handOverSignals.ts';

/** Where commands write: plain lines for people (progress, tables), errors on stderr. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

let received: NodeJS.Signals | null = null;

/**
 * The shutdown signal a {@link waitForShutdownSignal} of this process has received, or the one on
 * which a one-shot command's embedded PostgreSQL was stopped under it, or null: an error that surfaces
 * after it is the interruption's doing (a migration cut short), not a fault to fix.
 */
export function shutdownSignalReceived(): NodeJS.Signals | null {
  return received ?? embeddedStoppedBy();
}

/** Resolves with the signal's name on the first SIGINT or SIGTERM; a second one exits at once. */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => listenForShutdownSignal(resolve));
}

/**
 * An AbortSignal that aborts, with the signal's name as its reason, on the first SIGINT or SIGTERM (a
 * second one exits at once), after `onSignal` has said so. For a one-shot command that cancels its work
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

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** A second shutdown signal: exit at once, as the signal would (128 + its number). */
const exitAtOnce = (signal: NodeJS.Signals) => process.exit(128 + (constants.signals[signal] ?? 0));

/** Calls `fn` on the first SIGINT or SIGTERM and from then on exits at once on either; returns a function that stops listening before one came. */
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
