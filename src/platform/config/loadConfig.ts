import path from 'node:path';
import { BrigadeError } from '../errors/index.ts';
import { defaultProviderPort } from './defaultProviderPort.ts';

import { LOG_LEVELS, logLevelOf, type LogLevel } from './logLevelOf.ts';

/**
 * Brigade's configuration, read from the environment once at start-up, validated and frozen.
 * Nothing else in the code reads `process.env`: this object is passed down explicitly.
 */
export interface Config {
  /** `DATABASE_URL`; `null` means "run the embedded PostgreSQL under {@link Config.home}". */
  readonly databaseUrl: string | null;
  /** `<SERVICE>_DATABASE_URL` per service (database-per-service); services missing here use the main one. */
  readonly serviceDatabaseUrls: Readonly<Record<string, string>>;
  /** `DATABASE_REPLICA_URL`: a hot standby of the main database for reads (docs/decisions/0082), or `null`. */
  readonly databaseReplicaUrl: string | null;
  /** `DATABASE_REPLICA_MAX_LAG_MS`: reads use the primary while the standby's replay lags more than this. Default 2000. */
  readonly databaseReplicaMaxLagMs: number;
  /**
   * `DATABASE_POOL_SIZE`: connections per pool (one pool per database). Default 20. With every worker
   * in one process (`brigade start`), 11 of them are kept for as long as it runs: each outbox relay's
   * and projection's leader lock (5 + 3), the PostgreSQL transport's LISTEN (none with NATS), the
   * order views' LISTEN and the in-process cache's eviction LISTEN (none with Redis); HTTP, dispatch, consumers and the saga runners share the rest. `brigade start`,
   * `serve`, `worker` and `demo` refuse a size below what they keep + 2 (`checkPoolSize`; 13 for
   * `brigade start` with one database).
   */
  readonly poolSize: number;
  /**
   * `DATABASE_ACQUIRE_TIMEOUT_MS`: how long a request (or a worker's transaction) waits for a connection
   * of a full pool, or for a new one to open, before it fails: 503 `DATABASE_BUSY` (every connection was
   * in use) or 503 `DATABASE_UNAVAILABLE` (the new one did not open: the database is down, refusing or
   * unreachable, as when it refuses at once), both with `Retry-After`, for a request; a retry for a
   * worker. Default 5000, from 100 to 600 000. The CLI's connections get it too (the commands' pools,
   * the migrator's sessions): a server that takes the connection and never answers fails the command
   * then ("no PostgreSQL answered at DATABASE_URL … within 5 s") instead of holding it for ever.
   */
  readonly databaseAcquireTimeoutMs: number;
  /**
   * `DATABASE_COMMITS_IN_FLIGHT`: group-commit batches in flight per pool (docs/decisions/0055). Each
   * batch runs serially in one backend, so about one per core of the database server. Default 2.
   */
  readonly commitsInFlight: number;
  /** `REDIS_URL`, or `null` for the in-process cache. */
  readonly redisUrl: string | null;
  /**
   * The NATS servers `NATS_URL` lists (one URL, or several separated by commas: the seeds of a cluster,
   * any of which will do), or `null` for the PostgreSQL transport. Each trimmed; frozen.
   */
  readonly natsUrl: readonly string[] | null;
  /**
   * `NATS_STREAM_REPLICAS`: replicas of the JetStream stream (1 to 5). Default 1, for a single server;
   * a single server writes acknowledged messages to disk only every `sync_interval` (2 minutes by
   * default), so run it with `jetstream { sync_interval: always }`, or a cluster with 3 (decision 0016).
   */
  readonly natsStreamReplicas: number;
  /**
   * `NATS_STREAM_MAX_AGE_MS`: how long the JetStream stream keeps a message whether or not every
   * subscription has handled it (a consumer further behind loses what is older). Default 7 days; at
   * least `MESSAGE_DEDUPE_WINDOW_MS`.
   */
  readonly natsStreamMaxAgeMs: number;
  /**
   * `MESSAGE_DEDUPE_WINDOW_MS`: how long the transport remembers a message id to drop a re-published
   * copy (a relay that died between publishing and marking republishes within seconds): JetStream's
   * duplicate window, and on the PostgreSQL bus how long a message every subscription settled is kept
   * before the bus retention deletes it (decision 0068). Default 120 000.
   */
  readonly messageDedupeWindowMs: number;
  /**
   * `OUTBOX_RETENTION_MS`: how long an outbox keeps the rows its relay published before pruning them
   * (decision 0067): the window for reading what left, e.g. in an incident. Default 3 600 000 (1 hour).
   */
  readonly outboxRetentionMs: number;
  /**
   * `INBOX_RETENTION_MS`: how long a consuming service's inbox keeps the claim of a message it handled
   * before pruning it (decision 0092). A redelivery or a republish arrives within seconds or minutes;
   * at least a day, which the inbox's delete policy enforces too. Default 604 800 000 (7 days).
   */
  readonly inboxRetentionMs: number;
  /**
   * `CLAIM_CHECK_GRACE_MS`: how long a claim-checked payload (over 64 KiB) is kept once no subscription
   * needs it any more, for a redelivery after a lost ack, and a released reference to it, for a
   * republish the broker drops (decision 0016). Default 3 600 000 (1 hour); at least
   * `MESSAGE_DEDUPE_WINDOW_MS`.
   */
  readonly claimCheckGraceMs: number;
  /**
   * `TOKEN_REVOCATION_GRACE_MS`: how long a token revocation is kept past the expiry of the last token
   * it can refuse (its time plus the longest token lifetime, 30 days and a second) before the worker
   * `platform/token-revocation-retention` deletes it (decision 0007). The verifier allows tokens no clock
   * skew, so this is the margin for a process's clock behind the database's: by that much a token would
   * still pass there once its revocation was gone. Default 3 600 000 (1 hour), at least 60 000 (a
   * minute, which the table's delete policy enforces too), at most 365 days.
   */
  readonly tokenRevocationGraceMs: number;
  /** `HOST`: interface the HTTP server binds. Default `127.0.0.1`. */
  readonly host: string;
  /** `PORT`: HTTP port. Default 3000; 0 picks a free one. */
  readonly port: number;
  /** `BRIGADE_SECRET`: token-signing secret, or `null` to use the one generated under {@link Config.home}. */
  readonly secret: string | null;
  /** `LOG_LEVEL`. Default `info`. */
  readonly logLevel: LogLevel;
  /** `BRIGADE_HOME`: where local state lives (embedded database, generated secret). Default `./.brigade`. */
  readonly home: string;
  /** `HTTP_BODY_LIMIT`: largest accepted request body in bytes; larger ones get 413. Default 1 MiB. */
  readonly bodyLimit: number;
  /**
   * `HTTP_REQUEST_TIMEOUT_MS`: how long a client may take to send a whole request (headers and body);
   * one that has not finished by then gets 408 and its connection is closed. Default 30 000, from
   * 1000 to 600 000.
   */
  readonly requestTimeoutMs: number;
  /** `CACHE_TTL_SECONDS`: time-to-live of cached documents (the menu). Default 60; 0 turns caching off. */
  readonly cacheTtlSeconds: number;
  /**
   * `CACHE_MAX_BYTES`: bytes (bodies and ETags) each in-process cache keeps, per process; without
   * `REDIS_URL` only. Default 64 MiB, from 64 KiB to 64 GiB. A document above an eighth of it is
   * served uncached rather than pushing the others out.
   */
  readonly cacheMaxBytes: number;
  /**
   * `CACHE_KEY_PREFIX`: put before every cache key and channel in Redis (`<prefix>menu:{…}`), so that two
   * deployments sharing one Redis (staging beside production, a copy restored from production's backup,
   * whose restaurant ids are production's) neither read nor evict each other's menus. Empty by default:
   * every process of one deployment must be given the same. Up to 32 letters, digits or `_.:-`.
   */
  readonly cacheKeyPrefix: string;
  /** `PROVIDER_PORT`: where `brigade start` runs the stand-in payment provider. Default `PORT` + 1 (0 when `PORT` is 0). */
  readonly providerPort: number;
  /**
   * `PAYMENT_PROVIDER_URL`: the payment provider the payments saga calls, or `null` for the stand-in
   * that `brigade start` runs, at `http://127.0.0.1:<PROVIDER_PORT>` (see {@link paymentProviderUrlOf}).
   */
  readonly paymentProviderUrl: string | null;
  /** `PAYMENT_PROVIDER_TIMEOUT_MS`: how long one provider call may take before the step retries it. Default 5000, at most 20 000 (below the saga runner's 30 s lease). */
  readonly paymentProviderTimeoutMs: number;
  /** `ACCEPT_DEADLINE_MINUTES`: a restaurant that has not accepted an order within this long: cancel and refund. Default 10. */
  readonly acceptDeadlineMinutes: number;
  /**
   * `PICKUP_DEADLINE_MINUTES`: a courier who has not picked up an order this long after it was both
   * ready and assigned to them, and they free for it (not on another delivery), is taken off it (the
   * order goes back to dispatch) and off dispatch. Default 15.
   */
  readonly pickupDeadlineMinutes: number;
  /**
   * `PAYMENT_DEFAULT_CARD`: the card charged for a customer with no card on file. Default
   * `4242424242424242` (the stand-in provider approves it); `none`: such a customer's orders are
   * cancelled for want of a payment method.
   */
  readonly paymentDefaultCard: string | null;
}

/**
 * The payment provider's base URL: `PAYMENT_PROVIDER_URL`, else the stand-in on this host at
 * `PROVIDER_PORT` (when that is 0, `brigade start` replaces the config's URL with the one it got).
 */
export function paymentProviderUrlOf(config: Pick<Config, 'paymentProviderUrl' | 'providerPort'>): string {
  return config.paymentProviderUrl ?? `http://127.0.0.1:${config.providerPort}`;
}

/** One wrong variable: its name, what it expects and what it got. */
export interface ConfigIssue {
  readonly variable: string;
  readonly expected: string;
  readonly got: string;
}

/** Raised when the environment is invalid; the message names every bad variable. */
export class ConfigError extends BrigadeError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  ${i.variable}: expected ${i.expected}, got ${JSON.stringify(i.got)}`);
    super('CONFIG_INVALID', 500, `Invalid configuration:\n${lines.join('\n')}\nSet these variables to valid values (or unset them to use the defaults) and start again.`, {
      details: { issues },
    });
    this.issues = Object.freeze(issues);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** A variable named as a service's own database is (`<SERVICE>_DATABASE_URL`). */
const OWN_DATABASE_URL = /^[A-Z][A-Z0-9_]*_DATABASE_URL$/i;

/**
 * `*_DATABASE_URL` variables that something other than {@link loadConfig} reads: the stand-in payment
 * provider's own database (`brigade payment-provider`) and the event-store benchmark's client.
 */
const DATABASE_URLS_READ_ELSEWHERE: readonly string[] = ['PROVIDER_DATABASE_URL', 'BENCH_DATABASE_URL'];

/** The protocols of a PostgreSQL connection URL (`DATABASE_URL`, `--to-database`). */
export const POSTGRES_PROTOCOLS: readonly string[] = Object.freeze(['postgres:', 'postgresql:']);

/**
 * Whether `value` parses as a URL with one of `protocols` (each with its colon, as `URL.protocol`
 * has it): the check every URL variable gets.
 *
 * @example
 * isUrlOf('postgres://db/main', POSTGRES_PROTOCOLS) // true
 */
export function isUrlOf(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * Reads and validates the environment.
 *
 * @param env - the environment, usually `process.env`.
 * @param options.services - service names whose `<SERVICE>_DATABASE_URL` is read; another set
 *   `*_DATABASE_URL` whose name begins as a service's (`ORDERS_DATABASE_URL`) is refused as a typo.
 * @throws {@link ConfigError} naming every invalid variable.
 * @example
 * const config = loadConfig(process.env, { services: ['platform', 'menu'] });
 */
export function loadConfig(env: Env, options: { services: readonly string[]; cwd?: string }): Config {
  const issues: ConfigIssue[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const url = (name: string, protocols: readonly string[]): string | null => {
    const v = read(name);
    if (v === undefined) return null;
    if (!isUrlOf(v, protocols)) {
      const schemes = protocols.map((p) => `${p}//`).join(' or ');
      // `host=db user=app password=…` is what libpq also takes; pg and Brigade's checks read URLs only.
      const keywordValue = protocols === POSTGRES_PROTOCOLS && !hasAuthority(v) ? '; keyword/value connection strings are not supported; use postgres://user:pass@host/db' : '';
      issues.push({ variable: name, expected: `a URL starting with ${schemes}${keywordValue}`, got: redact(v) });
      return null;
    }
    return v;
  };
  /** A URL, or a comma-separated list of them (NATS's form for a cluster's seeds): each entry trimmed, none empty. */
  const urlList = (name: string, protocols: readonly string[]): readonly string[] | null => {
    const v = read(name);
    if (v === undefined) return null;
    const entries = v.split(',').map((entry) => entry.trim());
    if (entries.length === 1) {
      const one = url(name, protocols);
      return one === null ? null : Object.freeze([one]);
    }
    // Each entry is redacted on its own: a password in one is not shown, the others are.
    const got = entries.map((entry) => (entry === '' ? '' : redact(entry))).join(',');
    const empty = entries.findIndex((entry) => entry === '');
    if (empty >= 0) {
      issues.push({ variable: name, expected: `a comma-separated list of server URLs with no empty entry (entry ${empty + 1} of ${entries.length} is empty: remove the extra comma)`, got });
      return null;
    }
    const bad = entries.findIndex((entry) => !isUrlOf(entry, protocols));
    if (bad >= 0) {
      const schemes = protocols.map((p) => `${p}//`).join(' or ');
      issues.push({ variable: name, expected: `a URL starting with ${schemes} for every server of the list (entry ${bad + 1} of ${entries.length} is not)`, got });
      return null;
    }
    return Object.freeze(entries);
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      issues.push({ variable: name, expected: `an integer from ${min} to ${max}`, got: v });
      return fallback;
    }
    return n;
  };

  const serviceDatabaseUrls: Record<string, string> = {};
  for (const service of options.services) {
    const u = url(`${service.toUpperCase()}_DATABASE_URL`, POSTGRES_PROTOCOLS);
    if (u !== null) serviceDatabaseUrls[service] = u;
  }

  // A mistyped one (ORDERS_DATABASE_URL for ORDERING_DATABASE_URL) was ignored, and that service's data
  // went to the main database: a set *_DATABASE_URL whose name starts as a service's does (its first
  // four letters) must be that service's. Others (TEST_DATABASE_URL, another tool's) are not ours.
  const ownDatabases = options.services.map((service) => `${service.toUpperCase()}_DATABASE_URL`);
  const readElsewhere = new Set([...ownDatabases, ...DATABASE_URLS_READ_ELSEWHERE]);
  for (const name of Object.keys(env).sort()) {
    const v = read(name);
    if (!OWN_DATABASE_URL.test(name) || readElsewhere.has(name) || v === undefined) continue;
    const stem = name.slice(0, -'_DATABASE_URL'.length).toLowerCase();
    const meant = options.services.find((service) => stem.slice(0, 4) === service.slice(0, 4));
    if (meant === undefined) continue;
    issues.push({
      variable: name,
      expected: `no such variable: did you mean ${meant.toUpperCase()}_DATABASE_URL? The services with a database of their own are ${options.services.join(', ')} (${ownDatabases.join(', ')}); unset it or fix its name`,
      got: redact(v),
    });
  }

  // Read as the CLI reads it for its stack traces (logLevelOf): one reading, so the two agree.
  const logLevel = logLevelOf(env);
  if (logLevel === null) {
    issues.push({ variable: 'LOG_LEVEL', expected: `one of ${LOG_LEVELS.join(', ')}`, got: (read('LOG_LEVEL') ?? '').toLowerCase() });
  }
  const secret = read('BRIGADE_SECRET') ?? null;
  if (secret !== null && secret.length < 32) {
    issues.push({ variable: 'BRIGADE_SECRET', expected: 'at least 32 characters', got: `${secret.length} characters` });
  }

  const port = int('PORT', 3000, 0, 65535);
  // The stand-in provider beside the API: PORT + 1 (PORT - 1 at the top of the range), never PORT itself.
  const providerPort = int('PROVIDER_PORT', defaultProviderPort(port), 0, 65535);
  if (providerPort !== 0 && providerPort === port) {
    issues.push({ variable: 'PROVIDER_PORT', expected: `a port other than PORT (${port}): the stand-in payment provider and the API cannot share one`, got: String(providerPort) });
  }
  const defaultCard = read('PAYMENT_DEFAULT_CARD') ?? '4242424242424242';
  if (defaultCard !== 'none' && !/^\d{12,19}$/.test(defaultCard)) {
    issues.push({ variable: 'PAYMENT_DEFAULT_CARD', expected: "a card number of 12 to 19 digits, or 'none'", got: `${defaultCard.length} characters` });
  }

  const day = 24 * 3_600_000;
  const messageDedupeWindowMs = int('MESSAGE_DEDUPE_WINDOW_MS', 120_000, 1000, day);
  const natsStreamMaxAgeMs = int('NATS_STREAM_MAX_AGE_MS', 7 * day, 60_000, 365 * day);
  if (natsStreamMaxAgeMs < messageDedupeWindowMs) {
    // JetStream refuses a duplicate window longer than the stream's maximum age.
    issues.push({ variable: 'NATS_STREAM_MAX_AGE_MS', expected: `at least MESSAGE_DEDUPE_WINDOW_MS (${messageDedupeWindowMs})`, got: String(natsStreamMaxAgeMs) });
  }
  const claimCheckGraceMs = int('CLAIM_CHECK_GRACE_MS', 3_600_000, 1000, 30 * day);
  if (claimCheckGraceMs < messageDedupeWindowMs) {
    // A released claim-check reference is kept this long so that a republish the broker drops as a
    // duplicate meets it: deleted sooner, the republish writes a reference no handler releases (decision 0016).
    issues.push({ variable: 'CLAIM_CHECK_GRACE_MS', expected: `at least MESSAGE_DEDUPE_WINDOW_MS (${messageDedupeWindowMs})`, got: String(claimCheckGraceMs) });
  }

  const cacheKeyPrefix = read('CACHE_KEY_PREFIX') ?? '';
  if (!/^[A-Za-z0-9_.:-]{0,32}$/.test(cacheKeyPrefix)) {
    issues.push({ variable: 'CACHE_KEY_PREFIX', expected: 'up to 32 letters, digits or _.:- (e.g. staging:)', got: cacheKeyPrefix.length > 40 ? `${cacheKeyPrefix.length} characters` : JSON.stringify(cacheKeyPrefix) });
  }

  const databaseUrl = url('DATABASE_URL', POSTGRES_PROTOCOLS);
  const databaseReplicaUrl = url('DATABASE_REPLICA_URL', POSTGRES_PROTOCOLS);
  if (databaseReplicaUrl !== null) {
    // The replica's pool would be the primary's (one pool per URL, with the replica's short timeouts),
    // and every read routed to "the standby" would run on the primary, which never replays anything.
    const primaries = [
      ...(databaseUrl === null ? [] : [['DATABASE_URL', databaseUrl] as const]),
      ...Object.entries(serviceDatabaseUrls).map(([service, u]) => [`${service.toUpperCase()}_DATABASE_URL`, u] as const),
    ];
    const same = primaries.find(([, u]) => databaseAt(u) === databaseAt(databaseReplicaUrl));
    if (same !== undefined) {
      issues.push({
        variable: 'DATABASE_REPLICA_URL',
        expected: `the URL of a hot standby of DATABASE_URL, not the primary itself (it names the same host, port and database as ${same[0]})`,
        got: redact(databaseReplicaUrl),
      });
    }
  }

  const config: Config = {
    databaseUrl,
    serviceDatabaseUrls: Object.freeze(serviceDatabaseUrls),
    databaseReplicaUrl,
    databaseReplicaMaxLagMs: int('DATABASE_REPLICA_MAX_LAG_MS', 2000, 0, 3_600_000),
    poolSize: int('DATABASE_POOL_SIZE', 20, 1, 1000),
    databaseAcquireTimeoutMs: int('DATABASE_ACQUIRE_TIMEOUT_MS', 5000, 100, 600_000),
    commitsInFlight: int('DATABASE_COMMITS_IN_FLIGHT', 2, 1, 64),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    natsUrl: urlList('NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']),
    natsStreamReplicas: int('NATS_STREAM_REPLICAS', 1, 1, 5),
    natsStreamMaxAgeMs,
    messageDedupeWindowMs,
    outboxRetentionMs: int('OUTBOX_RETENTION_MS', 3_600_000, 1000, 30 * day),
    inboxRetentionMs: int('INBOX_RETENTION_MS', 7 * day, day, 365 * day),
    claimCheckGraceMs,
    tokenRevocationGraceMs: int('TOKEN_REVOCATION_GRACE_MS', 3_600_000, 60_000, 365 * day),
    host: read('HOST') ?? '127.0.0.1',
    port,
    secret,
    logLevel: logLevel ?? 'info',
    home: path.resolve(options.cwd ?? process.cwd(), read('BRIGADE_HOME') ?? '.brigade'),
    bodyLimit: int('HTTP_BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    requestTimeoutMs: int('HTTP_REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    cacheTtlSeconds: int('CACHE_TTL_SECONDS', 60, 0, 7 * 24 * 3600),
    cacheMaxBytes: int('CACHE_MAX_BYTES', 64 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024 * 1024),
    cacheKeyPrefix,
    providerPort,
    paymentProviderUrl: url('PAYMENT_PROVIDER_URL', ['http:', 'https:']),
    paymentProviderTimeoutMs: int('PAYMENT_PROVIDER_TIMEOUT_MS', 5000, 100, 20_000),
    acceptDeadlineMinutes: int('ACCEPT_DEADLINE_MINUTES', 10, 1, 24 * 60),
    pickupDeadlineMinutes: int('PICKUP_DEADLINE_MINUTES', 15, 1, 24 * 60),
    paymentDefaultCard: defaultCard === 'none' ? null : defaultCard,
  };
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(config);
}

/**
 * `host:port/database` of a PostgreSQL URL as pg reads it: `?host=` and `?port=` win over the URL's,
 * the host `localhost` and the port 5432 when none is given, the database the user's name when none
 * is given. Two URLs that give the same reach the same database whatever their user, password, scheme
 * or other parameters (another role on the primary is still the primary).
 */
function databaseAt(value: string): string {
  const parsed = new URL(value);
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part; // a stray % that URL let through: compared as written
    }
  };
  const user = parsed.searchParams.get('user') ?? decode(parsed.username);
  const host = (parsed.searchParams.get('host') ?? decode(parsed.hostname.replace(/^\[(.+)\]$/, '$1'))).toLowerCase() || 'localhost';
  const port = parsed.searchParams.get('port') ?? (parsed.port === '' ? '5432' : parsed.port);
  const database = decode(parsed.pathname.replace(/^\//, '')) || user;
  return `${host}:${port}/${database}`;
}

/** Query parameters that carry a secret in a connection string. */
const SECRET_PARAMS = /^(password|sslpassword|pass|token|secret)$/i;

/**
 * Hides the secrets of a URL before it is echoed back (an error message, a progress line): the
 * password of its user part and secret query parameters (`?password=`). A value that is not a URL
 * with `scheme://` shows nothing but its length: a keyword/value connection string
 * (`host=db password=…`) or a URL missing its scheme (`app:hunter2@db/x`, which parses with the scheme
 * `app:`) has its secrets where no pattern can find them all.
 *
 * @example
 * redact('postgres://app:hunter2@db/brigade') // 'postgres://app:***@db/brigade'
 * redact('host=db password=hunter2')         // '(not a URL: 24 characters, not shown)'
 */
export function redact(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return notShown(value);
  }
  if (!hasAuthority(value)) return notShown(value);
  // An '@' that the parse did not take as the end of a user part: a password that broke the URL into
  // another shape (`postgres://app:1234#sec@db`: host `app`, port 1234, the rest a fragment). Hide as
  // for an unparsable one; over-hiding an '@' of a path or query costs only a less useful echo.
  if (url.username === '' && url.password === '' && /\/\/.*@/.test(value)) return value.replace(/\/\/.*@/, '//***@');
  const secrets = [...url.searchParams.keys()].filter((name) => SECRET_PARAMS.test(name));
  // NATS takes a token as the user part alone (nats://TOKEN@host): there the user is the secret.
  const tokenUser = url.protocol.startsWith('nats') && url.username !== '' && url.password === '';
  if (url.password === '' && secrets.length === 0 && !tokenUser) return value; // as written: URL would normalise it
  if (tokenUser) url.username = '***';
  if (url.password !== '') url.password = '***';
  for (const name of secrets) url.searchParams.set(name, '***');
  // URL escapes the stars; the echo reads better with them plain.
  return url.toString().replaceAll('%2A%2A%2A', '***');
}

/** Whether `value` starts as a URL with an authority does: a scheme, then `//`. */
function hasAuthority(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

/** What is echoed of a value that may hold a secret and is not a URL: its length. */
function notShown(value: string): string {
  return `(not a URL: ${value.length} characters, not shown)`;
}
