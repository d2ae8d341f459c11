/**
 * The signals that ask a brigade process to stop: SIGINT (Ctrl+C), SIGTERM (a supervisor, `kill`) and
 * SIGHUP (the terminal closed, an SSH session dropped). Each gets the same orderly stop: the CLI's
 * shutdown (drain, then leave the embedded PostgreSQL) and the embedded server's fallback under a
 * one-shot command. A signal left out ended the process by its default action, with no drain, and the
 * embedded PostgreSQL, in a session of its own that the signal does not reach, ran on for nobody.
 *
 * @example
 * for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
 */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGINT', 'SIGTERM', 'SIGHUP']);
