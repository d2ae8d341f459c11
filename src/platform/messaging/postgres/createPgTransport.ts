import type pg from 'pg';
import { backoffDelay } from '../backoffDelay.ts';
import { BUS_CHANNEL } from '../busSchemaSql.ts';
import { checkHandled } from '../checkHandled.ts';
import { describeError } from '../describeError.ts';
import { runHandler } from '../runHandler.ts';
import { LeaseLostError, SubscriptionSubjectMismatchError, UnknownSubscriptionError } from '../errors.ts';
import type { Message, MessageHandler, OutgoingMessage, SubscribeOptions, Subscription, SubscriptionSpec, Transport } from '../types.ts';
import { patternToRegex, validateMessage, validateSubscription } from '../validate.ts';
import { createWakeup } from '../../runtime/createWakeup.ts';
import { readSubscriptionLease } from './readSubscriptionLease.ts';
import { claimDeliveries, type ClaimedDelivery } from './claimDeliveries.ts';
import { publishToBus } from './publishToBus.ts';
import { startDeliveries } from './startDeliveries.ts';
import { createAckBatcher, deadLetterDelivery, extendLease, keepLastError, releaseDelivery, retryDelivery } from './settleDelivery.ts';

/** The first wait before the LISTEN connection is opened again after it broke; it doubles up to {@link RECONNECT_MAX_MS}. */
const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 2000;

/** Options for {@link createPgTransport}. */
export interface PgTransportOptions {
  /** Pool of the database holding the `brigade_bus` schema ({@link ensureBusSchema} applied). */
  readonly pool: pg.Pool;
  /** Idle workers poll this often even without a NOTIFY (retries coming due, a lost notification). Default 1000 ms. */
  readonly pollIntervalMs?: number;
}

/**
 * The PostgreSQL transport, the embedded default. Publishing fans a message out into one delivery row
 * per matching subscription in the same statement; workers claim due rows with `FOR UPDATE SKIP LOCKED`
 * as leases with a fencing token, and sleep on LISTEN until a publish NOTIFYs them.
 *
 * @example
 * const transport = createPgTransport({ pool });
 * await transport.ensureSubscription({ subscription: 'delivery-orders', pattern: 'ordering.order.*' });
 * transport.subscribe({ subscription: 'delivery-orders', concurrency: 8, signal }, async (m) => { … });
 */
export function createPgTransport(options: PgTransportOptions): Transport {
  const { pool } = options;
  const pollMs = options.pollIntervalMs ?? 1000;
  const wakers = new Map<string, Set<() => void>>();
  /** The LISTEN connection, as the function that destroys it (once, however often it is called). */
  let listener: Promise<() => void> | null = null;
  let closed = false;
  /** The next attempt to open the LISTEN connection again, and how long the one after it waits. */
  let reconnect: NodeJS.Timeout | null = null;
  let reconnectMs = RECONNECT_FIRST_MS;

  const wakeAll = () => {
    for (const set of wakers.values()) for (const wake of set) wake();
  };

  /**
   * Opens the LISTEN connection again, after a back-off (50 ms, doubling to 2 s while it fails): a
   * broken one used to stay broken until some later subscribe call, and the workers meanwhile found
   * new messages only by polling. Not after close(), and not while no worker runs (the next subscribe
   * opens it then). Once it listens again every worker is woken: what was NOTIFYed while it was down
   * is lost.
   */
  const reconnectLater = () => {
    if (closed || reconnect !== null || ![...wakers.values()].some((set) => set.size > 0)) return;
    const delay = reconnectMs;
    reconnectMs = Math.min(reconnectMs * 2, RECONNECT_MAX_MS);
    reconnect = setTimeout(() => {
      reconnect = null;
      listen().then(
        () => {
          reconnectMs = RECONNECT_FIRST_MS;
          wakeAll();
        },
        () => undefined, // listen() scheduled the next attempt
      );
    }, delay);
    reconnect.unref();
  };

  const listen = (): Promise<() => void> => {
    // After close() nothing may open a connection it would not release (a worker starting as the
    // transport closes): pool.end() would wait for it for ever.
    if (closed) return Promise.resolve(() => undefined);
    if (listener !== null) return listener;
    const attempt: Promise<() => void> = (async () => {
      const client = await pool.connect();
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        client.release(true); // destroyed, never pooled: it still LISTENs
      };
      client.on('notification', (n) => {
        for (const wake of wakers.get(n.payload ?? '') ?? []) wake();
      });
      // A broken LISTEN connection (the server restarted, the backend terminated, the network cut) is
      // opened again. It also ends after close() destroyed it: reconnectLater does nothing then.
      let listening = false;
      const broken = () => {
        release();
        if (!listening) return; // setting up: the rejection below schedules the next attempt
        listening = false;
        if (listener === attempt) listener = null;
        reconnectLater();
      };
      client.on('error', broken);
      client.on('end', broken);
      try {
        await client.query(`listen ${client.escapeIdentifier(BUS_CHANNEL)}`);
      } catch (error) {
        release();
        throw error;
      }
      listening = true;
      return release;
    })();
    listener = attempt;
    attempt.catch(() => {
      if (listener === attempt) listener = null;
      reconnectLater();
    });
    return attempt;
  };

  const run = async (opts: SubscribeOptions, handler: MessageHandler): Promise<void> => {
    validateSubscription(opts.subscription);
    // Read again while the database does not answer, with the LISTEN connection's back-off: a worker
    // started before its database waits for it. Only an unknown subscription (or a database never migrated) is fatal.
    const leaseMs = await readSubscriptionLease(pool, opts.subscription, { signal: opts.signal, report: opts.onError ?? (() => undefined), firstDelayMs: RECONNECT_FIRST_MS, maxDelayMs: RECONNECT_MAX_MS });
    if (leaseMs === null) return; // stopped before the database answered
    const concurrency = Math.max(1, opts.concurrency ?? 1);
    const prefetch = Math.max(0, opts.prefetch ?? concurrency);
    const maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    const report = opts.onError ?? (() => undefined);
    const wakeup = createWakeup(opts.signal);
    let set = wakers.get(opts.subscription);
    if (!set) wakers.set(opts.subscription, (set = new Set()));
    set.add(wakeup.wake);
    await listen().catch(report);

    /** Claimed and not started yet. */
    const queue: ClaimedDelivery[] = [];
    const ack = createAckBatcher(pool);
    // Handlers running (at most `concurrency`), and outcomes being written (ack, retry, dead letter).
    // A handler's slot is free as soon as it returns: its outcome is written behind it (acks of many
    // handlers leave together), still under the attempt's lease. Both count against the claim's room,
    // so what a worker holds stays within concurrency + prefetch.
    const running = new Set<Promise<void>>();
    const settling = new Set<Promise<void>>();

    /** `exhausted`: the claim found every attempt used up and the handler was not run; `failure` is the letter's note ({@link checkHandled}). */
    const settle = async (d: ClaimedDelivery, failure: unknown, exhausted = false): Promise<void> => {
      try {
        if (failure === null) await ack(d);
        else if (exhausted) await deadLetterDelivery(pool, d, String(failure), { exhausted: true });
        else if (d.attempt >= maxAttempts) {
          const error = describeError(failure);
          try {
            await deadLetterDelivery(pool, d, error);
          } catch (parkError) {
            // Kept on the delivery (best effort), so the claim that finds the attempts used up once the
            // lease runs out writes this error into the letter, not only that attempts ran out.
            if (!(parkError instanceof LeaseLostError)) await keepLastError(pool, d, error).catch(() => undefined);
            throw parkError;
          }
        } else {
          const delay = backoffDelay(d.attempt, opts.backoff);
          await retryDelivery(pool, d, delay, describeError(failure));
          setTimeout(wakeup.wake, delay).unref();
        }
      } catch (error) {
        report(error);
      }
    };

    /**
     * Runs one claimed delivery. Attempts count the handler's runs, not claims (decision 0015, "Fixed
     * later (forty-fourth session…)"): a delivery the claim counted (`d.started`) runs at once as that
     * attempt; one that waited in the queue runs once `started` (its batch's start, see startDeliveries)
     * counted the run and renewed the lease. A queued delivery whose lease ran out meanwhile and which
     * another worker took over is missing from `started`: it is not run here, and costs no attempt.
     */
    const handle = async (d: ClaimedDelivery, started: Promise<ReadonlyMap<string, number>> | null): Promise<void> => {
      let outcome: { readonly d: ClaimedDelivery; readonly failure: unknown; readonly exhausted?: boolean };
      // Keep the lease while the handler (or the inbox check) runs; a handler that outlives it because
      // the process stalled loses the message to another worker, and its ack is then refused.
      const beat = () => void extendLease(pool, d, leaseMs).catch(report);
      if (started === null || d.attempt < maxAttempts) {
        const attempt = started === null ? d.attempt : (await started).get(d.deliveryId);
        if (attempt === undefined) return;
        const run: ClaimedDelivery = { ...d, attempt };
        const message: Message = { id: d.messageId, subject: d.subject, key: d.key, headers: d.headers, payload: d.payload, attempt };
        outcome = { d: run, failure: await runHandler(handler, message, beat, leaseMs) };
      } else {
        // Every attempt was counted as its run started and none was settled: the workers of those runs
        // were lost mid-handle (or the last one's ack or dead letter could not be stored). The message is
        // not run again, so one that kills its worker does not loop for ever: acked when the consumer's
        // inbox says the last run was handled (a worker lost between its commit and its ack), else parked.
        const message: Message = { id: d.messageId, subject: d.subject, key: d.key, headers: d.headers, payload: d.payload, attempt: d.attempt };
        const note = await checkHandled(opts.handled, message, maxAttempts, beat, leaseMs);
        outcome = note === null ? { d, failure: null } : { d, failure: note, exhausted: true };
      }
      const p: Promise<void> = settle(outcome.d, outcome.failure, outcome.exhausted).finally(() => {
        settling.delete(p);
        wakeup.wake();
      });
      settling.add(p);
    };
    const launch = (d: ClaimedDelivery, started: Promise<ReadonlyMap<string, number>> | null) => {
      const p: Promise<void> = handle(d, started).finally(() => {
        running.delete(p);
        wakeup.wake();
      });
      running.add(p);
    };

    while (!opts.signal.aborted) {
      const capacity = concurrency + prefetch;
      const room = capacity - running.size - settling.size - queue.length;
      let claimed = 0;
      // Claim when at least half the capacity is free (or nothing is queued): a claim per finished
      // handler would be one UPDATE and commit per message under load.
      if (room > 0 && (room * 2 >= capacity || queue.length === 0)) {
        try {
          // The deliveries that take the slots free now start at once, their runs counted by the claim;
          // slots cannot fill meanwhile (only this loop starts handlers), and what is queued goes first.
          const startNow = Math.max(0, concurrency - running.size - queue.length);
          const batch = await claimDeliveries(pool, { subscription: opts.subscription, limit: room, leaseMs, startNow, maxAttempts });
          for (const d of batch) {
            if (!d.started) queue.push(d);
            else if (opts.signal.aborted) await releaseDelivery(pool, d).catch(report);
            else launch(d, null);
          }
          claimed = batch.length;
        } catch (error) {
          report(error);
        }
      }
      if (running.size < concurrency && queue.length > 0 && !opts.signal.aborted) {
        // Queued deliveries taking the free slots start together: one statement counts their runs and
        // renews their leases (those with no attempt left are parked by handle without a run). A start
        // that failed runs none of them: each lease runs out and the delivery comes back.
        const batch = queue.splice(0, concurrency - running.size);
        const started = startDeliveries(pool, batch.filter((d) => d.attempt < maxAttempts), leaseMs).catch((error: unknown) => {
          report(error);
          return new Map<string, number>();
        });
        for (const d of batch) launch(d, started);
      }
      // A full batch means more may be waiting: claim again at once. Otherwise sleep until a NOTIFY,
      // a finished handler (a free slot) or the poll interval.
      if (claimed === 0 || claimed < room) await wakeup.wait(pollMs);
    }
    set.delete(wakeup.wake);
    await Promise.all(queue.splice(0).map((d) => releaseDelivery(pool, d).catch(report)));
    await Promise.all(running);
    await Promise.all(settling);
  };

  return {
    kind: 'postgres',
    busPool: pool,
    publish: async (messages: readonly OutgoingMessage[]) => {
      messages.forEach(validateMessage);
      await publishToBus(pool, messages);
    },
    ensureSubscription: async (spec: SubscriptionSpec) => {
      validateSubscription(spec.subscription);
      await pool.query(
        `insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ($1, $2, $3, $4)
         on conflict (name) do update set pattern = excluded.pattern, pattern_regex = excluded.pattern_regex, lease_ms = excluded.lease_ms`,
        [spec.subscription, spec.pattern, patternToRegex(spec.pattern), spec.leaseMs ?? 30_000],
      );
    },
    subscribe: (opts: SubscribeOptions, handler: MessageHandler): Subscription => ({ done: run(opts, handler) }),
    redeliver: async (subscription: string, message: OutgoingMessage) => {
      validateSubscription(subscription);
      // Deliveries have no foreign keys (decision 0057): the join on subscriptions is what refuses an
      // unknown subscription, and nothing is written then. Nor is anything written for a subscription
      // whose pattern does not take the subject (its pattern changed since the message was parked): no
      // publish would ever have given it that message, and the NATS transport refuses it too. A message
      // row still there is stamped published now: a prune that read it before this commits rechecks the
      // age on the row it locks and leaves it (it would otherwise delete the message under the new
      // delivery; decision 0068).
      const { rows } = await pool.query<{ pattern: string | null; takes: boolean | null }>(
        `with s as (
           select name, pattern, $3::text ~ pattern_regex as takes from brigade_bus.subscriptions where name = $1::text
         ), m as (
           insert into brigade_bus.messages (id, subject, key, headers, payload) select $2::uuid, $3::text, $4::text, $5::jsonb, $6::jsonb from s where s.takes
           on conflict (id) do update set published_at = now() returning id
         ), d as (
           insert into brigade_bus.deliveries (subscription, message_id) select s.name, m.id from s, m
           on conflict (subscription, message_id) do nothing returning subscription
         )
         select (select pattern from s) as pattern, (select takes from s) as takes, (select count(pg_notify('${BUS_CHANNEL}', subscription)) from d) as woken`,
        [subscription, message.id, message.subject, message.key, JSON.stringify(message.headers), JSON.stringify(message.payload ?? null)],
      );
      const pattern = rows[0]?.pattern ?? null;
      if (pattern === null) throw new UnknownSubscriptionError(subscription);
      if (rows[0]?.takes !== true) {
        throw new SubscriptionSubjectMismatchError(subscription, pattern, message.subject);
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      if (reconnect !== null) clearTimeout(reconnect);
      reconnect = null;
      const l = listener;
      listener = null;
      if (l) (await l.catch(() => null))?.();
    },
  };
}
