import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JsMsg } from '@nats-io/jetstream';
import { createInbox, nanos } from '@nats-io/transport-node';
import type pg from 'pg';
import { BrigadeError, UnavailableError } from '../../errors/index.ts';
import { backoffDelay } from '../backoffDelay.ts';
import { storeDeadLetter } from '../deadLetters/storeDeadLetter.ts';
import { checkHandled } from '../checkHandled.ts';
import { describeError } from '../describeError.ts';
import { runHandler } from '../runHandler.ts';
import { serializedPayload } from '../serializedPayload.ts';
import { connectNats, natsServersNamed } from './connectNats.ts';
import { encodeHeaders } from './encodeHeaders.ts';
import { FailuresCleanupError, InvalidMessageError, SubscriptionSubjectMismatchError, UndecodableMessageError, UnknownSubscriptionError } from '../errors.ts';
import { isUuid } from '../../ids/index.ts';
import { newMessageId } from '../newMessageId.ts';
import { pubAckRefusal, type PubAckError } from './pubAckRefusal.ts';
import { storable, undecodableLetter, type UndecodableStreamMessage } from './undecodableLetter.ts';
import type { Message, MessageHandler, MessageHeaders, OutgoingMessage, SubscribeOptions, Subscription, SubscriptionSpec, Transport } from '../types.ts';
import { patternToRegex, validateMessage, validatePattern, validateSubscription } from '../validate.ts';

/** Options for {@link createNatsTransport}. */
export interface NatsTransportOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222` (from `NATS_URL`). */
  readonly servers: string | readonly string[];
  /** Pool of the database with the `brigade_bus` schema: dead letters, failure times, subscription registry. */
  readonly pool: pg.Pool;
  /** The stream the platform creates (or updates) on start. Default `BRIGADE`. */
  readonly stream?: string;
  /** Subjects the stream captures, e.g. `['ordering.>', 'menu.>']`. */
  readonly subjects: readonly string[];
  /**
   * Whether this transport sets the stream up: creates it, or updates its subjects, replicas, duplicate
   * window and maximum age to these options (default `true`, for the processes that run the platform and
   * `brigade migrate`). `false` only checks that the stream exists and leaves its settings alone: for a
   * one-shot command such as `brigade dlq redrive`, whose environment need not carry the stream's settings
   * (a shell without `NATS_STREAM_MAX_AGE_MS` would otherwise reset the production stream's `max_age`).
   */
  readonly manageStream?: boolean;
  /** Stream replicas: 1 on a single server, 3 in a production cluster. Default 1. */
  readonly replicas?: number;
  /** Window in which a re-published `Nats-Msg-Id` is dropped as a duplicate. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /** How long messages stay in the stream whether or not they were consumed. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Connection name shown by the server. Default `brigade`. */
  readonly name?: string;
}

/** The key of a PubAck that refuses a message. */
const ERROR_KEY = '"error"';
/** The key of a PubAck for a message the stream dropped as a duplicate of its `Nats-Msg-Id`. */
const DUPLICATE_KEY = '"duplicate"';
/** How long a batch waits for its PubAcks (as js.publish's default). */
const PUBLISH_TIMEOUT_MS = 5000;
const PULL_EXPIRES_MS = 5000;
/**
 * How long a message a stopping worker had fetched but not started is held back by its NAK: until every
 * pull request of the worker has expired at the server (decision 0016, "Fixed later: attempts that ran…").
 * NAKed at once, it could be offered to the stopped worker's pull request still open there, and
 * nats-server 2.9.10 then loses it until its ack_wait ran out while delivering another message twice.
 */
const NAK_ON_STOP_MS = PULL_EXPIRES_MS + 250;
const H_KEY = 'Brigade-Key';
const H_ID = 'Brigade-Message-Id';
const H_REDRIVE = 'Brigade-Redrive-For';
const H_PREFIX = 'Brigade-H-';
/**
 * Settles a parked message for good. Without a reason: `+TERM <reason>` is a TERM only from nats-server
 * 2.10 on; 2.9 (decision 0016) took it for no ack at all, so every parked message came back after
 * ack_wait and was parked again, a new letter each lease, for ever.
 */
const terminate = (m: JsMsg): void => m.term();
/**
 * A `\u0000` escape in JSON text (not an escaped backslash followed by `u0000`): a string PostgreSQL
 * cannot store in jsonb. Tested only on a body that holds `\u0000` at all.
 */
const JSON_NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/;

/**
 * A stream message as {@link createNatsTransport} decodes it: the message, or, for one published onto
 * the stream outside the platform that no handler can take, what is wrong with it and what of it a dead
 * letter keeps. `redriveFor` either way: a redrive for another subscription is skipped unread.
 */
type Decoded =
  | { readonly message: Message; readonly redriveFor: string | null }
  | { readonly message: null; readonly redriveFor: string | null; readonly problem: string; readonly raw: UndecodableStreamMessage };

/**
 * The NATS JetStream transport. On creation it connects and creates or updates the stream (or, with
 * `manageStream: false`, only checks that it exists): file
 * storage, limits retention with a maximum age (every subscription is a durable consumer that reads
 * the stream at its own pace), and a duplicate window in which the message id (`Nats-Msg-Id`) dedupes.
 * Each subscription is a durable pull consumer with explicit acks, created to deliver what is published
 * after it (`DeliverPolicy.New`, as the PostgreSQL transport); `ack_wait` is the lease, kept alive
 * with `working()` while a handler runs. Retries are NAKs with the backoff delay; after the last attempt
 * the message goes to the PostgreSQL dead-letter store and is then TERMed. A stream message no handler
 * can take (published outside the platform: a body not JSON, no UUID message id) is parked at once,
 * its body kept as it came, and TERMed (decision 0016).
 *
 * @example
 * const transport = await createNatsTransport({ servers: config.natsUrl, pool, subjects: ['ordering.>'] });
 */
export async function createNatsTransport(options: NatsTransportOptions): Promise<Transport> {
  const stream = options.stream ?? 'BRIGADE';
  options.subjects.forEach(validatePattern);
  // Reconnect for ever: a broker outage must end in a drain, not a closed connection (nats.js stops
  // after 10 attempts by default, about 20 s).
  const nc = await connectNats(options.servers, { name: options.name ?? 'brigade', maxReconnectAttempts: -1 });
  const streamConfig = {
    name: stream,
    subjects: [...options.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas ?? 1,
    duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
    max_age: nanos(options.maxAgeMs ?? 7 * 24 * 3600_000),
  };
  const manage = options.manageStream ?? true;
  let jsm: Awaited<ReturnType<typeof jetstreamManager>>;
  try {
    jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(stream);
      if (manage) await jsm.streams.update(stream, streamConfig);
    } catch (error) {
      if (!isNamed(error, 'StreamNotFoundError')) throw error;
      if (!manage) {
        throw new UnavailableError(
          `The JetStream stream ${stream} does not exist at ${natsServersNamed(options.servers)}: start the platform (brigade serve or brigade worker) or run brigade migrate with this NATS_URL, which create it, then run this again`,
          { cause: error },
        );
      }
      await jsm.streams.add(streamConfig);
    }
  } catch (cause) {
    // The connection reconnects for ever: closed here, or it would keep the process alive.
    await nc.close().catch(() => undefined);
    if (cause instanceof UnavailableError) throw cause;
    throw new UnavailableError(
      `JetStream setup of stream ${stream} at ${natsServersNamed(options.servers)} failed (${cause instanceof Error ? cause.message : String(cause)}): is nats-server started with -js, and do no other stream's subjects overlap ${options.subjects.join(', ')}?`,
      { cause },
    );
  }
  const js = jetstream(nc);
  const { pool } = options;

  // PubAcks of pipelined publishes come back on one wildcard inbox (JetStream's "async publish"): no
  // request object, timer and error-with-stack per message as js.publish makes. Each message's reply
  // subject is `<inbox>.<batch>.<index>`: the batch settles when as many acks as messages came back (or
  // at the first refusal, or after one timeout for the batch), and a refusal names the message it refuses
  // (the relay reports that row, decision 0078, "Fixed later"; acks of one batch need not come in order).
  const ackInbox = createInbox();
  const batches = new Map<string, { remaining: number; messages: ReadonlyArray<{ m: OutgoingMessage }>; redrive: boolean; resolve(): void; reject(error: Error): void }>();
  let nextBatch = 0;
  nc.subscribe(`${ackInbox}.>`, {
    callback: (error, m) => {
      if (error !== null) return;
      const rest = m.subject.slice(ackInbox.length + 1);
      const dot = rest.indexOf('.');
      if (dot < 0) return; // not a reply to a message of ours (each has `<batch>.<index>`)
      const id = rest.slice(0, dot);
      const batch = batches.get(id);
      if (batch === undefined) return; // settled already (refused or timed out)
      let refusal: Error | null = null;
      const data = m.data.length === 0 ? null : Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      if (data === null && m.headers?.code === 503) {
        refusal = new UnavailableError(`No JetStream stream stores ${batch.messages[0]!.m.subject}: is the stream ${stream} up and its subjects right?`);
      } else if (data?.includes(ERROR_KEY) === true) {
        // Only a refusal carries "error": a stored message's PubAck ({"stream":…,"seq":…}) is not parsed.
        const ack = m.json<{ error?: PubAckError }>();
        const refused = batch.messages[Number(rest.slice(dot + 1))]?.m ?? batch.messages[0]!.m;
        if (ack.error !== undefined) refusal = pubAckRefusal(stream, refused, ack.error);
      } else if (batch.redrive && data?.includes(DUPLICATE_KEY) === true && m.json<{ duplicate?: boolean }>().duplicate === true) {
        // A publish the relay repeats is meant to be dropped as a duplicate; a redrive is not: its letter
        // would be deleted while no consumer got it. Its id is unique per call, so this is a safety net.
        refusal = new UnavailableError(`JetStream dropped the redrive of ${batch.messages[0]!.m.subject} as a duplicate of an earlier publish: the dead letter stays parked, redrive it again`);
      }
      if (refusal !== null) {
        batches.delete(id);
        batch.reject(refusal);
      } else if (--batch.remaining === 0) {
        batches.delete(id);
        batch.resolve();
      }
    },
  });

  /** Publishes `messages` and resolves when the stream acked every one (PubAck after it stored the message). */
  const publishAll = (messages: ReadonlyArray<{ m: OutgoingMessage; msgId: string; redriveFor?: string }>, redrive = false): Promise<void> => {
    if (messages.length === 0) return Promise.resolve();
    const id = (nextBatch++).toString(36);
    const reply = `${ackInbox}.${id}.`;
    let timer: NodeJS.Timeout | undefined;
    const acked = new Promise<void>((resolve, reject) => {
      batches.set(id, { remaining: messages.length, messages, redrive, resolve, reject });
      timer = setTimeout(() => reject(new UnavailableError(`JetStream did not ack within ${PUBLISH_TIMEOUT_MS} ms; publish again (the relay does so by itself; a redrive can be run again)`)), PUBLISH_TIMEOUT_MS);
    });
    let i = 0;
    try {
      for (; i < messages.length; i++) {
        const { m, msgId, redriveFor } = messages[i]!;
        publishOne(m, msgId, `${reply}${i}`, redriveFor);
      }
    } catch (error) {
      // The connection refused to send (closed, draining), or nats.js refused the message: nothing to wait for.
      clearTimeout(timer);
      batches.delete(id);
      acked.catch(() => undefined);
      throw overMaxPayload(error, messages[i]?.m) ?? error;
    }
    return acked.finally(() => {
      clearTimeout(timer);
      batches.delete(id);
    });
  };

  /**
   * nats.js's refusal of a message over the server's `max_payload` (headers and body together), which it
   * checks before sending, as the refusal of that message: the server would close the connection on it
   * (a protocol error), so it never gets that far. Any other error: `null`.
   */
  const overMaxPayload = (error: unknown, m: OutgoingMessage | undefined): InvalidMessageError | null => {
    if (m === undefined || !isNamed(error, 'InvalidArgumentError') || !/max_payload/.test((error as Error).message)) return null;
    return new InvalidMessageError(
      `Message ${m.id} (${m.subject}) is larger than the NATS server's max_payload (${nc.info?.max_payload ?? 'unknown'} bytes, headers and body together), so publishing it again is refused again. ` +
        'Send it smaller (a payload over the claim-check threshold travels by reference), or raise max_payload on every server',
      'payload',
      { messageId: m.id, cause: error },
    );
  };

  const publishOne = (m: OutgoingMessage, msgId: string, reply: string, redriveFor: string | undefined): void => {
    // Only what the dedupe id and the defaults do not already say: the message id rides as its own
    // header only when the dedupe id differs (a redrive), empty headers not at all (decode gives '').
    const pairs: Array<[string, string]> = [['Nats-Msg-Id', msgId], [H_KEY, m.key]];
    if (msgId !== m.id) pairs.push([H_ID, m.id]);
    if (redriveFor !== undefined) pairs.push([H_REDRIVE, redriveFor]);
    for (const name in m.headers) pairs.push([`${H_PREFIX}${name}`, m.headers[name]!]);
    nc.publish(m.subject, serializedPayload(m), { reply, headers: encodeHeaders(pairs) });
  };

  /**
   * The message of a stream message; or, for one published onto the stream outside the platform, why
   * no handler can take it: a body that is not JSON, no message id or one that is not a UUID (the
   * platform's ids, which the failures row, the dead letter and the inbox store as uuid), or a NUL
   * PostgreSQL cannot store. Never throws: a message that threw here was neither settled nor parked,
   * and came back every ack_wait for ever (max_deliver is -1), holding a slot of the worker.
   */
  const decode = (m: JsMsg): Decoded => {
    // One pass over the headers: nats.js's get() lists and filters every name on each call.
    const headers: Record<string, string> = { correlation: '', causation: '', tenant: '', traceparent: '' };
    let id = '';
    let dedupeId = '';
    let key = '';
    let redriveFor = '';
    let nul = false;
    for (const [name, values] of m.headers ?? []) {
      const value = values[0] ?? '';
      if (name.startsWith(H_PREFIX)) {
        headers[name.slice(H_PREFIX.length)] = value;
        nul ||= value.includes('\0') || name.includes('\0');
      } else if (name === H_KEY) {
        key = value;
        nul ||= value.includes('\0');
      } else if (name === 'Nats-Msg-Id') dedupeId = value;
      else if (name === H_ID) id = value;
      else if (name === H_REDRIVE) redriveFor = value;
    }
    const messageId = id || dedupeId;
    const text = m.string();
    const problems: string[] = [];
    if (!isUuid(messageId)) problems.push(messageId === '' ? 'it has no message id (Nats-Msg-Id)' : `its message id ${JSON.stringify(messageId)} is not a UUID`);
    let payload: unknown = null;
    if (text !== '') {
      try {
        payload = JSON.parse(text) as unknown;
        if (text.includes('\\u0000') && JSON_NUL_ESCAPE.test(text)) problems.push('its body holds a \\u0000, which PostgreSQL cannot store');
      } catch (error) {
        problems.push(`its body is not JSON (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    if (nul || m.subject.includes('\0')) problems.push('its subject, key or a header holds a NUL, which PostgreSQL cannot store');
    if (problems.length > 0) {
      return {
        message: null,
        redriveFor: redriveFor || null,
        problem: storable(problems.join('; ')),
        raw: { subject: m.subject, sequence: m.seq, messageId, key, headers, body: m.data },
      };
    }
    return {
      // Attempt 1 here; a redelivery's is counted by the worker (startAttempt), not taken from the server.
      message: { id: messageId, subject: m.subject, key, headers: headers as MessageHeaders, payload, attempt: 1 },
      redriveFor: redriveFor || null,
    };
  };

  /**
   * Parks a stream message no handler can take, at once and without a handler's attempt, then TERMs it:
   * retried, it would only fail the same way. Its letter keeps the body as it came and says where the
   * message was and what to do. When the letter cannot be stored, this throws and the message comes
   * back after ack_wait to be parked then.
   */
  const parkUndecodable = async (m: JsMsg, subscription: string, problem: string, raw: UndecodableStreamMessage): Promise<void> => {
    const letter = undecodableLetter(raw, problem);
    const id = newMessageId();
    const error = new UndecodableMessageError({ stream, sequence: raw.sequence, subject: letter.subject, subscription }, problem, id);
    await storeDeadLetter(pool, { id, subscription, message: letter, error: `${error.name} [${error.code}]: ${error.message}`, attempts: 0, transport: 'nats' });
    terminate(m);
  };

  const run = async (opts: SubscribeOptions, handler: MessageHandler): Promise<void> => {
    validateSubscription(opts.subscription);
    const concurrency = Math.max(1, opts.concurrency ?? 1);
    const prefetch = Math.max(1, opts.prefetch ?? concurrency);
    const maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    const report = opts.onError ?? (() => undefined);
    let consumer;
    try {
      consumer = await js.consumers.get(stream, opts.subscription);
    } catch (cause) {
      if (isNamed(cause, 'ConsumerNotFoundError')) throw new UnknownSubscriptionError(opts.subscription, { cause });
      throw new UnavailableError(`Could not read the JetStream consumer ${opts.subscription} of stream ${stream}: ${cause instanceof Error ? cause.message : String(cause)}; is NATS up?`, { cause });
    }
    const ackWaitMs = Number((await consumer.info(true)).config.ack_wait) / 1e6;
    // Backpressure: the client pulls at most `prefetch` messages ahead; the loop below does not take
    // the next one while `concurrency` handlers run, so memory holds at most prefetch + concurrency.
    // Pull requests expire after PULL_EXPIRES_MS (the library's default is 30 s). After a reconnect the
    // library checks that the consumer still exists before pulling again, and while the restarted
    // server is still recovering its streams that check fails and waits one `expires` before the next:
    // 30 s of a worker receiving nothing, per failed check. 5 s costs one pull request per 5 s when idle.
    // A pull request (a JetStream API call) goes out when a quarter of `prefetch` is still outstanding,
    // asking for the other three quarters; the library's default (three quarters outstanding) pulls
    // three times as often, each a write and a request for nats-server to serve (decision 0062).
    const messages = await consumer.consume({ max_messages: prefetch, threshold_messages: Math.floor(prefetch / 4), expires: PULL_EXPIRES_MS });
    // How long a message waited in the client's buffer before its turn: its ack_wait runs from its
    // delivery, and one that ran out there has been (or is being) redelivered, to this worker or
    // another, so running it too would run it twice. The library neither stamps arrivals nor lets the
    // buffer be reached (to keep its messages alive with working()), but it counts them: every sample
    // (received count, time) bounds the arrival of the messages counted after it. The k-th message
    // arrived after the last sample that counted fewer than k, a bound at most one sampling interval
    // early, so the wait it gives is at most one interval too long.
    const sampleMs = Math.max(25, ackWaitMs / 10);
    const samples: Array<{ received: number; at: number }> = [{ received: messages.getReceived(), at: Date.now() }];
    const sample = () => {
      const received = messages.getReceived();
      const last = samples[samples.length - 1]!;
      if (last.received === received) last.at = Date.now();
      else samples.push({ received, at: Date.now() });
    };
    const sampler = setInterval(sample, sampleMs).unref();
    /** The earliest the `k`-th message (counted from 1) can have arrived; drops the samples older messages no longer need. */
    const arrivedAfter = (k: number): number => {
      while (samples.length > 1 && samples[1]!.received < k) samples.shift();
      return samples[0]!.at;
    };
    const running = new Set<Promise<void>>();
    let freed: (() => void) | null = null;
    const wake = () => {
      const f = freed;
      freed = null;
      f?.();
    };
    // Stopping: nats.js stops pulling, and the iterator yields what it had received before it ends.
    // The loop below NAKs those, so the next worker gets them once this worker's pull requests have
    // expired (NAK_ON_STOP_MS); left alone, each came back only once its ack_wait ran out (30 s by
    // default), on every rolling restart, and cost an attempt.
    const stop = () => {
      messages.stop();
      wake();
    };
    opts.signal.addEventListener('abort', stop, { once: true });
    if (opts.signal.aborted) stop();
    // Acks leave together: those of every handler that finished in this turn of the event loop go out
    // in one write (nats.js flushes at the end of the microtask queue, which each handler's own
    // completion would otherwise reach on its own). Fewer writes, and fewer wake-ups of nats-server.
    const acks: JsMsg[] = [];
    const flushAcks = () => {
      for (const m of acks.splice(0)) m.ack();
    };
    const ack = (m: JsMsg) => {
      if (acks.push(m) === 1) setImmediate(flushAcks);
    };

    /**
     * Notes a failed attempt: its first failure's time (JetStream keeps none) and its error, for the
     * letter, the attempt's number (`attempts`), and when it was written last, which keeps the row from
     * the bus retention's prune while the message's retries run (`pruneFailures`).
     */
    const keepFailure = async (subscription: string, messageId: string, error: string, attempt: number) => {
      await pool.query(
        'insert into brigade_bus.failures (subscription, message_id, last_error, attempts) values ($1, $2, $3, $4) on conflict (subscription, message_id) do update set last_error = excluded.last_error, last_failed_at = now(), attempts = excluded.attempts',
        [subscription, messageId, error, attempt],
      );
    };

    /**
     * Counts the run a redelivered message is about to get, and returns its number. The server's
     * delivery count cannot say it: it also counts deliveries that ran no handler (a message that waited
     * in a worker's buffer behind slow handlers until its ack_wait ran out, one a stopping worker gave
     * back), so one transient failure could park a message after a single run, and a backlog could park
     * messages that never ran. Counted before the handler starts, so a run whose worker dies is counted
     * too, and a message that kills its worker is parked after its last attempt rather than run for
     * ever; only a first delivery, which writes nothing (the common case stays without a write), is not
     * counted when its worker dies: such a message gets one run more than `maxAttempts`.
     */
    const startAttempt = async (subscription: string, messageId: string): Promise<number | null> => {
      // `null`: the message is parked in this subscription already, by a worker that stored its letter
      // and did not TERM it (it died, or the TERM was late): it is only to be settled. The letter is
      // read `for share`, so that a redrive deleting it (before it sends the message back) is waited for.
      const { rows } = await pool.query<{ attempts: number | null }>(
        `with parked as (
           select from brigade_bus.dead_letters where subscription = $1 and message_id = $2 for share
         ), counted as (
           insert into brigade_bus.failures (subscription, message_id, attempts) select $1, $2, 1 where not exists (select from parked)
           on conflict (subscription, message_id) do update set attempts = failures.attempts + 1, last_failed_at = now()
           returning attempts
         )
         select (select attempts from counted) as attempts`,
        [subscription, messageId],
      );
      return rows[0]?.attempts ?? null;
    };

    /**
     * Runs `work` (a write to the bus database) while keeping `m`'s ack_wait from running out: the server
     * must not hand the message to another worker while this one is still settling it. A letter stored
     * slower than ack_wait used to be followed by a second one, stored by the worker the message went to.
     */
    const keptWorking = async <T>(m: JsMsg, work: () => Promise<T>): Promise<T> => {
      const heartbeat = setInterval(() => {
        try {
          m.working();
        } catch {
          // The connection is closed: the server redelivers the message once its ack_wait runs out.
        }
      }, Math.max(50, ackWaitMs / 3));
      try {
        return await work();
      } finally {
        clearInterval(heartbeat);
      }
    };

    const handle = async (m: JsMsg): Promise<void> => {
      const decoded = decode(m);
      const subscription = opts.subscription;
      // A redrive goes through the stream to every consumer of the subject; the others skip it.
      if (decoded.redriveFor !== null && decoded.redriveFor !== subscription) return ack(m);
      if (decoded.message === null) {
        const { problem, raw } = decoded;
        return keptWorking(m, () => parkUndecodable(m, subscription, problem, raw));
      }
      const redelivered = m.info.deliveryCount > 1;
      const { id } = decoded.message;
      const attempt = redelivered ? await keptWorking(m, () => startAttempt(subscription, id)) : 1;
      if (attempt === null) return terminate(m);
      const message = attempt === 1 ? decoded.message : { ...decoded.message, attempt };
      const exhausted = attempt > maxAttempts;
      // The last attempt was not settled (its worker died, or its ack or letter was not stored): not run
      // again, so that a message that kills its worker does not loop for ever. Acked when the consumer's
      // inbox says the last run was handled (a worker lost between its commit and its ack), else parked.
      const note = exhausted ? await checkHandled(opts.handled, { ...message, attempt: attempt - 1 }, maxAttempts, () => m.working(), ackWaitMs) : null;
      if (note !== null) {
        await keptWorking(m, () => storeDeadLetter(pool, { subscription, message, error: note, exhausted: true, attempts: attempt - 1, transport: 'nats' }));
        return terminate(m);
      }
      const failure = exhausted ? null : await runHandler(handler, message, () => m.working(), ackWaitMs);
      if (failure === null) {
        // Acked first: the handler succeeded, and nothing after it may undo that. The clean-up of the
        // earlier attempts' failures row used to come before the ack, and when it failed (a bus database
        // blip) the message was never acked: it came back, ran again, and past its last attempt was
        // parked as MESSAGE_ATTEMPTS_EXHAUSTED, though handled. Best effort now, as the claim-check
        // release (decision 0016): a row left behind is harmless, and is reported.
        ack(m);
        // A redelivery wrote the row (startAttempt), whether or not an earlier run failed.
        if (redelivered) {
          await pool.query('delete from brigade_bus.failures where subscription = $1 and message_id = $2', [subscription, message.id]).catch((cause: unknown) => {
            try {
              report(new FailuresCleanupError(message.id, subscription, attempt, cause));
            } catch {
              // A throwing reporter must not fail a message its handler handled.
            }
          });
        }
        return;
      }
      if (attempt >= maxAttempts) {
        const error = describeError(failure);
        try {
          await keptWorking(m, () => storeDeadLetter(pool, { subscription, message, error, attempts: attempt, transport: 'nats' }));
        } catch (parkError) {
          // Kept (best effort) for the delivery past the last attempt, which parks the message once
          // ack_wait runs out: its letter then starts with this error, not only that attempts ran out.
          await keepFailure(subscription, message.id, error, attempt).catch(() => undefined);
          throw parkError;
        }
        return terminate(m);
      }
      await keptWorking(m, () => keepFailure(subscription, message.id, describeError(failure), attempt));
      m.nak(backoffDelay(attempt, opts.backoff));
    };

    try {
      for await (const m of messages) {
        const arrived = arrivedAfter(messages.getProcessed());
        while (running.size >= concurrency && !opts.signal.aborted) await new Promise<void>((resolve) => (freed = resolve));
        // As the PostgreSQL transport does with a delivery queued for half its lease: renewed before it
        // runs, or, when its ack_wait may have run out meanwhile, left to the server's redelivery (it
        // is neither acked nor NAKed: the server already counts it as not delivered here, and a NAK
        // could hand it out again while another worker runs it).
        const waited = Date.now() - arrived;
        if (waited >= ackWaitMs) {
          sample();
          continue;
        }
        // Stopping: not started here, given back for the next worker (as the PostgreSQL transport
        // releases what it claimed ahead).
        if (opts.signal.aborted) {
          m.nak(NAK_ON_STOP_MS);
          sample();
          continue;
        }
        if (waited > ackWaitMs / 2) m.working();
        const p: Promise<void> = handle(m)
          .catch((error: unknown) => report(error)) // the message is redelivered after ack_wait
          .finally(() => {
            running.delete(p);
            wake();
          });
        running.add(p);
        sample();
      }
    } finally {
      clearInterval(sampler);
      // Also when the library ends the iterator with an error: the handlers still running finish first.
      opts.signal.removeEventListener('abort', stop);
      await messages.close().catch(report);
      await Promise.all(running);
      flushAcks();
    }
  };

  /** Writes the subscription's row of the registry (`brigade_bus.subscriptions`), shared with the PostgreSQL transport. */
  const register = async (subscription: string, pattern: string, leaseMs: number): Promise<void> => {
    await pool.query(
      `insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ($1, $2, $3, $4)
       on conflict (name) do update set pattern = excluded.pattern, pattern_regex = excluded.pattern_regex, lease_ms = excluded.lease_ms`,
      [subscription, pattern, patternToRegex(pattern), leaseMs],
    );
  };

  return {
    kind: 'nats',
    publish: async (messages) => {
      messages.forEach(validateMessage);
      // Pipelined: all publishes are in flight at once; done when every PubAck is in.
      await publishAll(messages.map((m) => ({ m, msgId: m.id })));
    },
    ensureSubscription: async (spec: SubscriptionSpec) => {
      validateSubscription(spec.subscription);
      const leaseMs = spec.leaseMs ?? 30_000;
      const config = {
        durable_name: spec.subscription,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(leaseMs),
        // A subscription takes the messages published after it was created, as on the PostgreSQL
        // transport (which fans out on publish): not the stream's history, which a consumer created
        // (or deleted and created again) later would replay from its first message, days of it, with
        // claim-checked payloads it holds no reference to (decision 0015, "Later").
        deliver_policy: DeliverPolicy.New,
        filter_subject: spec.pattern,
        // Attempts are counted by the transport (dead-lettering needs the PostgreSQL store), so the
        // server must never drop a message silently after max_deliver.
        max_deliver: -1,
        max_ack_pending: 10_000,
      };
      let current: { pattern: string; ackWait: number } | undefined;
      try {
        const info = await jsm.consumers.info(stream, spec.subscription);
        current = { pattern: info.config.filter_subject ?? '', ackWait: info.config.ack_wait ?? config.ack_wait };
      } catch (error) {
        if (!isNamed(error, 'ConsumerNotFoundError')) throw error;
      }
      // The registry first: claim-check references are written for the subscriptions it lists when a
      // message is published, so a consumer that took messages before its row was there could be handed
      // a claim-checked message with no reference of its own, whose payload the purge may then delete
      // (CLAIM_CHECK_MISSING). The other way round, a publish between the two writes a reference that no
      // handler of this consumer releases (it starts after that message): a payload kept until the
      // reference is dropped by hand, which is cheaper than one lost.
      await register(spec.subscription, spec.pattern, leaseMs);
      if (current === undefined) await jsm.consumers.add(stream, config);
      else {
        // A changed pattern must reach the consumer too: the registry is what claim-checks and the
        // PostgreSQL transport go by. nats-server before 2.10 cannot change a consumer's filter.
        const { pattern: existing, ackWait } = current;
        const update = existing === spec.pattern ? {} : { filter_subject: spec.pattern };
        await jsm.consumers.update(stream, spec.subscription, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending, ...update }).catch(async (cause: unknown) => {
          // Nothing of the consumer changed: the registry goes back to what the consumer is.
          if (existing !== '') await register(spec.subscription, existing, Number(ackWait) / 1e6);
          if (existing === spec.pattern) throw cause;
          throw new BrigadeError(
            'SUBSCRIPTION_PATTERN_FIXED',
            409,
            `Subscription ${spec.subscription} takes ${existing} on JetStream, and this server cannot change it to ${spec.pattern} (${cause instanceof Error ? cause.message : String(cause)}): use a new subscription name, or delete the consumer (nats consumer rm ${stream} ${spec.subscription}) once it has no backlog`,
            { details: { subscription: spec.subscription, pattern: spec.pattern, current: existing }, cause },
          );
        });
      }
    },
    subscribe: (opts: SubscribeOptions, handler: MessageHandler): Subscription => ({ done: run(opts, handler) }),
    redeliver: async (subscription, message) => {
      validateSubscription(subscription);
      // Every consumer but `subscription` skips a redrive, so one to a consumer that is gone, or whose
      // filter does not take the subject, would be lost: refused instead, as the PostgreSQL transport does.
      let filter: string | undefined;
      try {
        filter = (await jsm.consumers.info(stream, subscription)).config.filter_subject;
      } catch (cause) {
        if (isNamed(cause, 'ConsumerNotFoundError')) throw new UnknownSubscriptionError(subscription, { cause });
        throw cause;
      }
      if (filter !== undefined && filter !== '' && !new RegExp(patternToRegex(filter)).test(message.subject)) {
        throw new SubscriptionSubjectMismatchError(subscription, filter, message.subject);
      }
      // A new stream message (a fresh delivery count) under a dedupe id of its own for each call: the
      // message id would be dropped within the duplicate window, and an id made of the time alone was
      // shared by two letters of one message (parked by two subscriptions) redriven in one millisecond,
      // so JetStream dropped the second while its letter was deleted. The inbox dedupes on the message
      // id (`Brigade-Message-Id`), which the redrive keeps.
      await publishAll([{ m: message, msgId: `${message.id}:redrive:${subscription}:${randomUUID()}`, redriveFor: subscription }], true);
    },
    close: async () => {
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** Whether `error` is nats.js's error of that class name (its classes are not all exported). */
function isNamed(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | null)?.name === name;
}
