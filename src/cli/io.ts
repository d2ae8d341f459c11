// The module itself, not the db index: `brigade --help` and usage errors load no driver.
import { embeddedStoppedBy } from '../platform/db/embeddedPostgres.ts';

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
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      received = signal;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
