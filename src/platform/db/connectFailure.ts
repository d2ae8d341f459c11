// No driver here: `brigade`'s error mapping (src/cli/main.ts) reads it, and `brigade --help` loads no driver.

/** A connection attempt that failed: where it went (`host:port`, never a user or password) and how long it was given. */
export interface ConnectAttempt {
  /** `host:port` as the driver read it from the connection string. */
  readonly address: string;
  /** Its time limit in ms (pg's `connectionTimeoutMillis`); 0 for none. */
  readonly timeoutMs: number;
}

/**
 * How a connection attempt failed before any PostgreSQL spoke on it, for a message that says what to
 * check: `silent`, nothing answered within its time limit (a port that takes connections and never
 * answers, a host that drops packets: Redis's port, a dead proxy); `closed`, the other end closed the
 * connection while connecting, in the driver's words "Connection terminated unexpectedly" or with a
 * reset (a port of another protocol, NATS's say).
 */
export interface SilentConnectFailure extends ConnectAttempt {
  readonly kind: 'silent' | 'closed';
}

/** The errors of failed connection attempts ({@link markConnectFailure}), with the attempt. */
const attempts = new WeakMap<object, ConnectAttempt>();

/** Notes that `error` is the failure of the connection attempt `attempt` (the driver's error while connecting). */
export function markConnectFailure(error: unknown, attempt: ConnectAttempt): void {
  if (typeof error === 'object' && error !== null) attempts.set(error, attempt);
}

/** pg's own words for an attempt cut at its time limit: the client's, and the pool's (which wraps the client's error as its cause). */
const TIMED_OUT = new Set(['timeout expired', 'Connection terminated due to connection timeout']);

/** pg's words for a peer that closed the connection before answering as PostgreSQL does. */
const CLOSED = 'Connection terminated unexpectedly';

/**
 * The failure of a connection attempt that no PostgreSQL answered ({@link SilentConnectFailure}), found
 * in `error` or its chain of causes (a {@link ConfiguredDatabaseError}, a `DATABASE_UNAVAILABLE`, pg-pool's
 * timeout error); `undefined` for anything else: a refusal or an unknown host (their codes have advice
 * of their own), anything PostgreSQL said (a SQLSTATE), and a connection lost after it was open (only
 * connection attempts are marked, see {@link markConnectFailure}).
 *
 * @example
 * connectFailureOf(new ConfiguredDatabaseError('DATABASE_URL', timedOut)) // { kind: 'silent', address: '127.0.0.1:6379', timeoutMs: 5000 }
 */
export function connectFailureOf(error: unknown): SilentConnectFailure | undefined {
  let timedOut = false;
  let closed = false;
  let attempt: ConnectAttempt | undefined;
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    attempt ??= attempts.get(e);
    const { message, code } = e as { message?: unknown; code?: unknown };
    if (typeof message === 'string' && TIMED_OUT.has(message)) timedOut = true;
    // A peer that hung up, in the driver's words or as a reset (the socket's ECONNRESET, when it closed
    // with our startup message unread): the driver's other code-less refusals (no SSL on the server, no
    // password for SCRAM) say what is wrong themselves and are left to the caller.
    if (message === CLOSED || (attempts.has(e) && code === 'ECONNRESET')) closed = true;
  }
  if (attempt === undefined) return undefined;
  if (timedOut) return { kind: 'silent', ...attempt };
  return closed ? { kind: 'closed', ...attempt } : undefined;
}
