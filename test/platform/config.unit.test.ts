import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, logLevelOf, paymentProviderUrlOf, printsStackTraces, redact } from '../../src/platform/config/index.ts';

const services = ['platform', 'menu'];

test('defaults when nothing is set, and the result is frozen', () => {
  const config = loadConfig({}, { services, cwd: '/srv/app' });
  assert.equal(config.databaseUrl, null);
  assert.equal(config.redisUrl, null);
  assert.equal(config.natsUrl, null);
  assert.equal(config.port, 3000);
  assert.equal(config.poolSize, 20);
  assert.equal(config.databaseAcquireTimeoutMs, 5000);
  assert.equal(config.commitsInFlight, 2);
  assert.equal(config.requestTimeoutMs, 30_000);
  assert.equal(config.cacheMaxBytes, 64 * 1024 * 1024);
  assert.equal(config.cacheKeyPrefix, '');
  assert.equal(config.logLevel, 'info');
  assert.equal(config.home, '/srv/app/.brigade');
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.serviceDatabaseUrls));
  assert.throws(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
});

test('reads every documented variable', () => {
  const config = loadConfig(
    {
      DATABASE_URL: 'postgres://u:p@db:5432/brigade',
      MENU_DATABASE_URL: 'postgresql://menu-db/menu',
      DATABASE_REPLICA_URL: 'postgres://replica/brigade',
      DATABASE_POOL_SIZE: '32',
      DATABASE_ACQUIRE_TIMEOUT_MS: '2500',
      DATABASE_COMMITS_IN_FLIGHT: '8',
      REDIS_URL: 'redis://cache:6379',
      NATS_URL: 'nats://bus:4222',
      PORT: '8080',
      BRIGADE_SECRET: 'x'.repeat(40),
      LOG_LEVEL: 'DEBUG',
      BRIGADE_HOME: '/var/lib/brigade',
      HTTP_BODY_LIMIT: '2048',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      CACHE_MAX_BYTES: '1048576',
      CACHE_KEY_PREFIX: 'staging:',
    },
    { services },
  );
  assert.equal(config.databaseUrl, 'postgres://u:p@db:5432/brigade');
  assert.deepEqual(config.serviceDatabaseUrls, { menu: 'postgresql://menu-db/menu' });
  assert.equal(config.databaseReplicaUrl, 'postgres://replica/brigade');
  assert.equal(config.poolSize, 32);
  assert.equal(config.databaseAcquireTimeoutMs, 2500);
  assert.equal(config.commitsInFlight, 8);
  assert.equal(config.redisUrl, 'redis://cache:6379');
  assert.deepEqual(config.natsUrl, ['nats://bus:4222']);
  assert.equal(config.port, 8080);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.home, '/var/lib/brigade');
  assert.equal(config.bodyLimit, 2048);
  assert.equal(config.requestTimeoutMs, 5000);
  assert.equal(config.cacheMaxBytes, 1_048_576);
  assert.equal(config.cacheKeyPrefix, 'staging:');
  assert.throws(() => loadConfig({ CACHE_MAX_BYTES: '1000' }, { services }), /CACHE_MAX_BYTES: expected an integer from 65536 to /);
});

test('an invalid value names the variable and what it expects; every bad variable is listed', () => {
  const error = (() => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://root:hunter2@db/x', DATABASE_POOL_SIZE: '0', LOG_LEVEL: 'loud', BRIGADE_SECRET: 'short' }, { services });
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.ok(error instanceof ConfigError);
  assert.equal(error.code, 'CONFIG_INVALID');
  assert.deepEqual(error.issues.map((i) => i.variable).sort(), ['BRIGADE_SECRET', 'DATABASE_POOL_SIZE', 'DATABASE_URL', 'LOG_LEVEL', 'PORT']);
  assert.match(error.message, /PORT: expected an integer from 0 to 65535, got "eighty"/);
  assert.match(error.message, /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//);
  assert.match(error.message, /LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/);
  assert.doesNotMatch(error.message, /hunter2/, 'a password in a bad URL is not echoed');
});

test('DATABASE_REPLICA_URL naming the primary itself (DATABASE_URL or a service database) is refused', () => {
  const refused = (env: Record<string, string>, primary: string) =>
    assert.throws(
      () => loadConfig(env, { services }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.issues.length === 1 &&
        error.issues[0]!.variable === 'DATABASE_REPLICA_URL' &&
        error.message.includes(`DATABASE_REPLICA_URL: expected the URL of a hot standby of DATABASE_URL, not the primary itself (it names the same host, port and database as ${primary})`) &&
        !error.message.includes('hunter2'),
    );
  refused({ DATABASE_URL: 'postgres://app:hunter2@db.example/brigade', DATABASE_REPLICA_URL: 'postgres://app:hunter2@db.example/brigade' }, 'DATABASE_URL');
  // The same database written otherwise: the scheme, the host's case, the default port, another role or password, other parameters.
  refused({ DATABASE_URL: 'postgres://app@db.example/brigade', DATABASE_REPLICA_URL: 'postgresql://reader:hunter2@DB.example:5432/brigade?application_name=r' }, 'DATABASE_URL');
  refused({ DATABASE_URL: 'postgres://app@db.example/brigade', DATABASE_REPLICA_URL: 'postgres://app@elsewhere.example/brigade?host=db.example&port=5432' }, 'DATABASE_URL');
  // No database: pg takes the user's name.
  refused({ DATABASE_URL: 'postgres://brigade@db.example/brigade', DATABASE_REPLICA_URL: 'postgres://brigade@db.example' }, 'DATABASE_URL');
  refused({ DATABASE_URL: 'postgres://app@db.example/brigade', MENU_DATABASE_URL: 'postgres://app@menu-db/menu', DATABASE_REPLICA_URL: 'postgres://app@menu-db:5432/menu' }, 'MENU_DATABASE_URL');

  for (const replica of ['postgres://app@standby.example/brigade', 'postgres://app@db.example:5433/brigade', 'postgres://app@db.example/other']) {
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://app@db.example/brigade', DATABASE_REPLICA_URL: replica }, { services }).databaseReplicaUrl, replica, 'another host, port or database');
  }
});

// Found by a review: NATS_URL took one URL only, so a cluster could be given one seed, and with that
// node down the process refused to start although the cluster was up.
test('NATS_URL: one server or a comma-separated list of them, each trimmed; an empty entry or a bad one is refused, saying what to write', () => {
  assert.deepEqual(loadConfig({ NATS_URL: 'nats://a:4222' }, { services }).natsUrl, ['nats://a:4222']);
  const listed = loadConfig({ NATS_URL: ' nats://a:4222, tls://u:hunter2@b:4222 ,nats://c:4222 ' }, { services }).natsUrl;
  assert.deepEqual(listed, ['nats://a:4222', 'tls://u:hunter2@b:4222', 'nats://c:4222']);
  assert.ok(Object.isFrozen(listed));
  const refused = (value: string, says: RegExp, got: string) =>
    assert.throws(
      () => loadConfig({ NATS_URL: value }, { services }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.issues.length === 1 &&
        error.issues[0]!.variable === 'NATS_URL' &&
        says.test(error.message) &&
        error.issues[0]!.got === got &&
        !error.message.includes('hunter2'),
      value,
    );
  const empty = /NATS_URL: expected a comma-separated list of server URLs with no empty entry \(entry 2 of 3 is empty: remove the extra comma\)/;
  refused('nats://a:4222,,nats://u:hunter2@b:4222', empty, 'nats://a:4222,,nats://u:***@b:4222');
  refused('nats://a:4222, ,nats://b:4222', empty, 'nats://a:4222,,nats://b:4222');
  refused('nats://a:4222,', /NATS_URL: expected a comma-separated list of server URLs with no empty entry \(entry 2 of 2 is empty: remove the extra comma\)/, 'nats://a:4222,');
  refused(
    'nats://a:4222,http://u:hunter2@b:4222',
    /NATS_URL: expected a URL starting with nats:\/\/ or tls:\/\/ or ws:\/\/ or wss:\/\/ for every server of the list \(entry 2 of 2 is not\)/,
    // Redacted as URL writes it (http's path: a trailing slash), as every URL variable is.
    'nats://a:4222,http://u:***@b:4222/',
  );
  // One URL that is wrong reads as before.
  refused('http://b:4222', /NATS_URL: expected a URL starting with nats:\/\/ or tls:\/\/ or ws:\/\/ or wss:\/\/, got "http:\/\/b:4222"/, 'http://b:4222');
});

test('NATS_STREAM_REPLICAS: 1 by default, 1 to 5', () => {
  assert.equal(loadConfig({}, { services }).natsStreamReplicas, 1);
  assert.equal(loadConfig({ NATS_STREAM_REPLICAS: '3' }, { services }).natsStreamReplicas, 3);
  for (const bad of ['0', '6', 'three']) {
    assert.throws(() => loadConfig({ NATS_STREAM_REPLICAS: bad }, { services }), (error: unknown) => error instanceof ConfigError && error.issues[0]!.variable === 'NATS_STREAM_REPLICAS');
  }
});

test("TOKEN_REVOCATION_GRACE_MS: an hour by default, from a minute (the revocations' delete policy keeps that much anyway) to 365 days", () => {
  assert.equal(loadConfig({}, { services }).tokenRevocationGraceMs, 3_600_000);
  assert.equal(loadConfig({ TOKEN_REVOCATION_GRACE_MS: '60000' }, { services }).tokenRevocationGraceMs, 60_000);
  for (const bad of ['59999', '0', String(366 * 86_400_000), '1h']) {
    assert.throws(
      () => loadConfig({ TOKEN_REVOCATION_GRACE_MS: bad }, { services }),
      (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && error.issues[0]?.variable === 'TOKEN_REVOCATION_GRACE_MS',
      bad,
    );
  }
});

test('retention windows: the outbox, the dedupe window, the claim-check grace, the stream age and the inbox', () => {
  const defaults = loadConfig({}, { services });
  assert.deepEqual(
    [defaults.outboxRetentionMs, defaults.messageDedupeWindowMs, defaults.claimCheckGraceMs, defaults.natsStreamMaxAgeMs, defaults.inboxRetentionMs],
    [3_600_000, 120_000, 3_600_000, 7 * 24 * 3_600_000, 7 * 24 * 3_600_000],
  );
  // The inbox keeps a claim at least a day (its delete policy refuses younger ones anyway, decision 0092).
  assert.equal(loadConfig({ INBOX_RETENTION_MS: '172800000' }, { services }).inboxRetentionMs, 172_800_000);
  assert.throws(
    () => loadConfig({ INBOX_RETENTION_MS: '3600000' }, { services }),
    (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && error.issues[0]?.variable === 'INBOX_RETENTION_MS',
  );
  const set = loadConfig({ OUTBOX_RETENTION_MS: '86400000', MESSAGE_DEDUPE_WINDOW_MS: '300000', CLAIM_CHECK_GRACE_MS: '600000', NATS_STREAM_MAX_AGE_MS: '172800000' }, { services });
  assert.deepEqual([set.outboxRetentionMs, set.messageDedupeWindowMs, set.claimCheckGraceMs, set.natsStreamMaxAgeMs], [86_400_000, 300_000, 600_000, 172_800_000]);
  assert.throws(
    () => loadConfig({ OUTBOX_RETENTION_MS: '0', MESSAGE_DEDUPE_WINDOW_MS: '2h' }, { services }),
    (error: unknown) => error instanceof ConfigError && error.issues.map((i) => i.variable).join() === 'MESSAGE_DEDUPE_WINDOW_MS,OUTBOX_RETENTION_MS',
  );
  // JetStream refuses a duplicate window longer than the stream keeps messages.
  assert.throws(
    () => loadConfig({ MESSAGE_DEDUPE_WINDOW_MS: '600000', NATS_STREAM_MAX_AGE_MS: '300000' }, { services }),
    (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && /NATS_STREAM_MAX_AGE_MS: expected at least MESSAGE_DEDUPE_WINDOW_MS \(600000\), got "300000"/.test(error.message),
  );
  // A released claim-check reference must outlive the dedupe window, or a republish writes one nobody releases.
  assert.throws(
    () => loadConfig({ MESSAGE_DEDUPE_WINDOW_MS: '600000', CLAIM_CHECK_GRACE_MS: '300000' }, { services }),
    (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && /CLAIM_CHECK_GRACE_MS: expected at least MESSAGE_DEDUPE_WINDOW_MS \(600000\), got "300000"/.test(error.message),
  );
});

test('empty values count as unset', () => {
  const config = loadConfig({ DATABASE_URL: '', PORT: '  ' }, { services });
  assert.equal(config.databaseUrl, null);
  assert.equal(config.port, 3000);
});

test('payments: provider port and URL, timeout, accept deadline and the default card', () => {
  const defaults = loadConfig({ PORT: '8080' }, { services });
  assert.deepEqual(
    [defaults.providerPort, defaults.paymentProviderUrl, paymentProviderUrlOf(defaults), defaults.paymentProviderTimeoutMs, defaults.acceptDeadlineMinutes, defaults.paymentDefaultCard],
    [8081, null, 'http://127.0.0.1:8081', 5000, 10, '4242424242424242'],
  );
  assert.equal(loadConfig({ PORT: '0' }, { services }).providerPort, 0, 'any free port for the platform: any free port for the provider');
  assert.equal(loadConfig({ PORT: '65535' }, { services }).providerPort, 65534, 'the top port: the one below it, never the API port itself');
  assert.throws(
    () => loadConfig({ PORT: '4100', PROVIDER_PORT: '4100' }, { services }),
    (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && error.issues[0]!.variable === 'PROVIDER_PORT' && /other than PORT/.test(error.message),
  );
  const set = loadConfig(
    { PROVIDER_PORT: '4100', PAYMENT_PROVIDER_URL: 'https://pay.example/api', PAYMENT_PROVIDER_TIMEOUT_MS: '2500', ACCEPT_DEADLINE_MINUTES: '3', PAYMENT_DEFAULT_CARD: 'none' },
    { services },
  );
  assert.deepEqual(
    [set.providerPort, paymentProviderUrlOf(set), set.paymentProviderTimeoutMs, set.acceptDeadlineMinutes, set.paymentDefaultCard],
    [4100, 'https://pay.example/api', 2500, 3, null],
  );
  assert.equal(loadConfig({ PAYMENT_DEFAULT_CARD: '4000000000000002' }, { services }).paymentDefaultCard, '4000000000000002');
  assert.throws(
    () => loadConfig({ PAYMENT_PROVIDER_URL: 'ftp://x', PAYMENT_PROVIDER_TIMEOUT_MS: '60000', ACCEPT_DEADLINE_MINUTES: '0', PAYMENT_DEFAULT_CARD: '4242-4242' }, { services }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.issues.map((i) => i.variable).sort(), ['ACCEPT_DEADLINE_MINUTES', 'PAYMENT_DEFAULT_CARD', 'PAYMENT_PROVIDER_TIMEOUT_MS', 'PAYMENT_PROVIDER_URL']);
      assert.doesNotMatch(error.message, /4242-4242/, 'a card number is not echoed');
      return true;
    },
  );
});

test('delivery: the pick-up deadline (PICKUP_DEADLINE_MINUTES), 15 minutes by default, 1 to 1440', () => {
  assert.equal(loadConfig({}, { services }).pickupDeadlineMinutes, 15);
  assert.equal(loadConfig({ PICKUP_DEADLINE_MINUTES: '4' }, { services }).pickupDeadlineMinutes, 4);
  for (const bad of ['0', '1441', 'soon']) {
    assert.throws(
      () => loadConfig({ PICKUP_DEADLINE_MINUTES: bad }, { services }),
      (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && error.issues[0]!.variable === 'PICKUP_DEADLINE_MINUTES',
      bad,
    );
  }
});

test('redact hides every secret of a URL it echoes: the password of the user part, one with @ in it, one without a user, and ?password=', () => {
  assert.equal(redact('postgres://app:hunter2@db/brigade'), 'postgres://app:***@db/brigade');
  // Before, the three below kept their secret: the pattern stopped at the first @, needed a user, and never read the query.
  assert.doesNotMatch(redact('postgres://postgres:p@ss@127.0.0.1:5432/b'), /p@ss|ss@127/);
  assert.equal(redact('postgres://:hunter2@db/x'), 'postgres://:***@db/x');
  assert.equal(redact('postgres://app@db/a?password=hunter2&sslmode=require'), 'postgres://app@db/a?password=***&sslmode=require');
  assert.equal(redact('nats://brigade:Sup3rS3cretPw@127.0.0.1:4222'), 'nats://brigade:***@127.0.0.1:4222');
  assert.equal(redact('not a url, user:pw@host'), '(not a URL: 23 characters, not shown)', 'text that is no URL shows only its length');
  assert.equal(redact('http://127.0.0.1:4010'), 'http://127.0.0.1:4010');
  assert.equal(redact('nats://s3cretToken@nats:4222'), 'nats://***@nats:4222', "NATS's token is its user part");
  assert.doesNotMatch(redact('postgres://app:pa/ss@db/x'), /pa\/ss|ss@db/, 'a password that breaks the URL');
  // A password of digits then '#' parses as a port and a fragment: the URL has no user part at all.
  assert.equal(redact('postgres://app:1234#sec@db/brigade'), 'postgres://***@db/brigade');
  assert.equal(redact('postgres://app:1234?x=sec@db/brigade'), 'postgres://***@db/brigade');
});

test('a database URL that is not a URL (keyword/value, or no scheme) is echoed as its length only, with what to write instead', () => {
  // Before, both were echoed in full: redact hid only what sat between // and @, and `app:hunter2@db/brigade` parses (scheme `app:`).
  for (const value of ['host=db user=app password=hunter2', 'app:hunter2@db/brigade']) {
    for (const variable of ['DATABASE_URL', 'MENU_DATABASE_URL', 'DATABASE_REPLICA_URL']) {
      const error = (() => {
        try {
          loadConfig({ [variable]: value }, { services });
        } catch (e) {
          return e;
        }
        return null;
      })();
      assert.ok(error instanceof ConfigError, `${variable}=${value}`);
      assert.doesNotMatch(error.message, /hunter2/, `${variable}=${value}`);
      assert.doesNotMatch(JSON.stringify(error.issues), /hunter2/);
      assert.equal(error.issues[0]!.got, `(not a URL: ${value.length} characters, not shown)`);
      assert.match(error.message, new RegExp(`${variable}: expected a URL starting with postgres:// or postgresql://; keyword/value connection strings are not supported; use postgres://user:pass@host/db`));
    }
  }
  // Every other URL variable goes through the same redact.
  for (const variable of ['REDIS_URL', 'NATS_URL', 'PAYMENT_PROVIDER_URL']) {
    assert.throws(
      () => loadConfig({ [variable]: 'host=cache password=hunter2' }, { services }),
      (error: unknown) => error instanceof ConfigError && !/hunter2/.test(error.message) && error.issues[0]!.got === '(not a URL: 27 characters, not shown)' && !/keyword\/value/.test(error.message),
      variable,
    );
  }
  // An unparsable value with a scheme: its query may hold ?password= where no pattern can find it.
  assert.equal(redact('postgres://db:abc/x?password=hunter2'), '(not a URL: 36 characters, not shown)');
});

test('a *_DATABASE_URL that begins as a service name but is none (a typo) is refused, naming the services; the known ones and other tools\' pass', () => {
  // Before, ORDERS_DATABASE_URL was ignored and ordering's data went to the main database.
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://db/main', ORDERS_DATABASE_URL: 'postgres://app:hunter2@db/orders', menu_DATABASE_URL: 'postgres://db/menu' }, { services: ['platform', 'menu', 'ordering'] }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.issues.map((i) => i.variable).join() === 'ORDERS_DATABASE_URL,menu_DATABASE_URL' &&
      /ORDERS_DATABASE_URL: expected no such variable: did you mean ORDERING_DATABASE_URL\? The services with a database of their own are platform, menu, ordering \(PLATFORM_DATABASE_URL, MENU_DATABASE_URL, ORDERING_DATABASE_URL\); unset it or fix its name, got "postgres:\/\/app:\*\*\*@db\/orders"/.test(error.message) &&
      !/hunter2/.test(error.message),
  );
  const config = loadConfig(
    // Another tool's (TEST_DATABASE_URL, HEROKU_DATABASE_URL) is not ours to refuse: only a name that begins as a service's is a typo.
    { DATABASE_URL: 'postgres://db/main', DATABASE_REPLICA_URL: 'postgres://standby/main', MENU_DATABASE_URL: 'postgres://db/menu', PROVIDER_DATABASE_URL: 'postgres://db/provider', BENCH_DATABASE_URL: 'postgres://db/bench', ORDERS_DATABASE_URL: ' ', TEST_DATABASE_URL: 'postgres://db/test', HEROKU_DATABASE_URL: 'postgres://db/h' },
    { services },
  );
  assert.deepEqual(config.serviceDatabaseUrls, { menu: 'postgres://db/menu' });
});

// Found by a review: the CLI read LOG_LEVEL for its stack traces on its own (untrimmed, and only `debug`),
// so ' debug' gave no stack though the config took it as debug, and `trace` (more than debug) gave none.
test('LOG_LEVEL is read one way (logLevelOf) by the config and by the stack traces: trimmed, any case; stacks at debug and trace', () => {
  assert.deepEqual(
    [{}, { LOG_LEVEL: '' }, { LOG_LEVEL: '  ' }, { LOG_LEVEL: ' Trace ' }, { LOG_LEVEL: 'DEBUG\n' }, { LOG_LEVEL: 'loud' }].map((env) => logLevelOf(env)),
    ['info', 'info', 'info', 'trace', 'debug', null],
  );
  for (const LOG_LEVEL of [' Trace ', 'DEBUG\n', 'warn']) assert.equal(loadConfig({ LOG_LEVEL }, { services }).logLevel, logLevelOf({ LOG_LEVEL }));
  assert.deepEqual(
    (['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', null] as const).map((level) => printsStackTraces(level)),
    [false, false, false, false, true, true, false, false],
  );
});

test('CACHE_KEY_PREFIX: up to 32 letters, digits or _.:-; anything else is refused naming the variable', () => {
  for (const bad of ['has space', 'x'.repeat(33), 'é:', '{menu}']) {
    assert.throws(() => loadConfig({ CACHE_KEY_PREFIX: bad }, { services }), (e: unknown) => {
      assert.match(String((e as Error).message), /CACHE_KEY_PREFIX/);
      return true;
    }, bad);
  }
  assert.equal(loadConfig({ CACHE_KEY_PREFIX: 'prod-eu.1:' }, { services }).cacheKeyPrefix, 'prod-eu.1:');
});
