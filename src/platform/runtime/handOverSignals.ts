/**
 * Moves the handling of `signals` from the listener `from` to `to`, never leaving them unheard.
 *
 * Node keeps one signal watcher per signal while any listener is on it and closes it when the last
 * one goes; a signal the watcher has already caught, but not yet dispatched (that happens on a later
 * turn of the event loop), is dropped with it. So the new listener goes in before the old one comes
 * out: the watcher stays open, and a signal caught just before the hand-over reaches `to`. (The other
 * order lost it: neither listener ever ran.) Synchronous, so no signal is dispatched while both are in.
 *
 * @example
 * handOverSignals(['SIGINT', 'SIGTERM'], holdWhileStarting, stopOnSignal);
 */
export function handOverSignals(signals: readonly NodeJS.Signals[], from: (signal: NodeJS.Signals) => void, to: (signal: NodeJS.Signals) => void): void {
  for (const signal of signals) process.on(signal, to);
  for (const signal of signals) process.removeListener(signal, from);
}
