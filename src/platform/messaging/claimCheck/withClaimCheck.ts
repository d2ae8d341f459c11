import { createHash } from 'node:crypto';
import type pg from 'pg';
import { asTransactionConflict } from '../../db/transactionConflict.ts';
import { ClaimCheckMissingError, ClaimCheckReleaseError } from '../errors.ts';
import { serializedPayload } from '../serializedPayload.ts';
import type { Message, MessageHandler, OutgoingMessage, SubscribeOptions, Transport } from '../types.ts';

/** Header naming the sha-256 of a payload that stayed in PostgreSQL. */
export const CLAIM_CHECK_HEADER = 'claim-check';

// One lock order for every statement that locks both a payload's row and a reference's: the payload
// first. The publish's `check` upserts the payload and then meets the references; a redrive's `hold`
// updates the payload and then the reference; the purge deletes payloads, whose references go by the
// cascade after. The release used to update the reference and then the payload: a republish of the same
// message (the relay after a crash before its checkpoint) holding the payload and waiting on that
// reference made a deadlock, and when PostgreSQL aborted the release the reference stayed held and the
// payload was never purged. Now the release restarts the payload's grace first, and only when the
// reference it finds (not locked, a snapshot read) is still held; the update of the reference then
// rechecks `released_at is null` on its locked row (a release of a second delivery of the message finds
// it released and changes nothing, having restarted the grace once more, as the first did).
const RELEASE_SQL = `with payload as (
  update brigade_bus.claim_checks c set created_at = now()
   where c.sha256 = (select r.sha256 from brigade_bus.claim_check_refs r where r.message_id = $1 and r.subscription = $2 and r.released_at is null)
  returning c.sha256
)
update brigade_bus.claim_check_refs r set released_at = now()
  from payload p
 where r.message_id = $1 and r.subscription = $2 and r.released_at is null and r.sha256 = p.sha256`;

/**
 * How many times a handler's release of its reference is run when PostgreSQL aborts it as a deadlock
 * (40P01) or a serialization failure (40001) before it is reported (`CLAIM_CHECK_RELEASE_FAILED`).
 */
const CLAIM_CHECK_RELEASE_ATTEMPTS = 5;

/** Options for {@link withClaimCheck}. */
export interface ClaimCheckOptions {
  /** Pool of the database with the `brigade_bus` schema. */
  readonly pool: pg.Pool;
  /** Payloads whose JSON is larger than this many bytes are claim-checked. Default 64 KiB. */
  readonly thresholdBytes?: number;
}

/**
 * Wraps a transport with the claim-check pattern. On publish, a payload over the threshold is stored
 * once in `brigade_bus.claim_checks` under its sha-256 (content-addressed: the same payload twice is one
 * row) with one reference per subscription whose pattern matches, and only the hash rides the bus in the
 * `claim-check` header. On receive the payload is put back before the handler sees the message, and the
 * subscription's reference is released (stamped `released_at`) once the handler succeeded, restarting
 * the payload's grace; {@link purgeClaimChecks} deletes payloads no unreleased reference points at any
 * more once that grace is over, and released references as long after their release. A released
 * reference stays meanwhile so that a republish of the same message (which the broker drops as a
 * duplicate) meets it instead of writing a reference no handler would release. A dead-lettered message
 * keeps its reference until it is redriven and handled, or dropped.
 *
 * A release that PostgreSQL aborts as a deadlock or a serialization failure is run again (up to five
 * times). A release that fails otherwise (the database not answering) does not fail the message: the
 * handler succeeded, and a retry would run it again and at last dead-letter a message that was handled. The error goes to
 * the subscription's `onError`; the reference stays unreleased and keeps its payload (counted
 * `held_past_grace` by {@link registerClaimCheckMetrics} once the grace is over).
 *
 * A redrive (`redeliver`) of a claim-checked message first holds its payload again for that
 * subscription (the reference unreleased, the grace restarted), and refuses with
 * {@link ClaimCheckMissingError}, sending nothing, when the payload is no longer stored: the message
 * could only fail again, `CLAIM_CHECK_MISSING`, and be parked anew.
 *
 * Subscriptions created after a publish hold no reference to it; they can resolve it only while
 * another reference keeps the payload.
 *
 * The wrapper keeps the PostgreSQL transport's `busPool`, so an outbox relay on the bus's own database
 * still moves rows into the bus in one statement (decision 0057): those payloads stay in PostgreSQL,
 * whatever their size, and are not claim-checked. Everything else that publishes (the relay to
 * JetStream, `transport.publish`) is.
 */
export function withClaimCheck(transport: Transport, options: ClaimCheckOptions): Transport {
  const { pool } = options;
  const threshold = options.thresholdBytes ?? 64 * 1024;

  const check = async (messages: readonly OutgoingMessage[]): Promise<OutgoingMessage[]> => {
    const out: OutgoingMessage[] = [];
    for (const m of messages) {
      const json = serializedPayload(m);
      const size = Buffer.byteLength(json);
      if (size <= threshold) {
        out.push(m);
        continue;
      }
      const sha256 = createHash('sha256').update(json).digest('hex');
      // Payload and references in one statement; the references are written before the message can be
      // delivered, so no handler can ack before its reference exists.
      await pool.query(
        `with c as (
           insert into brigade_bus.claim_checks (sha256, payload, size_bytes) values ($1, $2::jsonb, $3)
           on conflict (sha256) do update set created_at = now() returning sha256
         )
         insert into brigade_bus.claim_check_refs (sha256, message_id, subscription)
         select c.sha256, $4, s.name from c, brigade_bus.subscriptions s where $5 ~ s.pattern_regex
         on conflict do nothing`,
        [sha256, json, size, m.id, m.subject],
      );
      out.push({ ...m, headers: { ...m.headers, [CLAIM_CHECK_HEADER]: sha256 }, payload: null });
    }
    return out;
  };

  const resolve = async (message: Message): Promise<Message> => {
    const sha256 = message.headers[CLAIM_CHECK_HEADER];
    if (!sha256) return message;
    const { rows } = await pool.query('select payload from brigade_bus.claim_checks where sha256 = $1', [sha256]);
    if (rows.length === 0) throw new ClaimCheckMissingError(sha256);
    const { [CLAIM_CHECK_HEADER]: _ref, ...headers } = message.headers;
    return { ...message, headers: headers as Message['headers'], payload: rows[0].payload as unknown };
  };

  // The purge's grace starts again now: the ack that follows may be lost, and the redelivery must still
  // find the payload, however long ago it was stored (a backlog, a redrive). The reference stays,
  // released, so that a republish of this message meets it (`on conflict do nothing` in check) rather
  // than writing a reference that no handler would release once the broker dropped the duplicate.
  // A deadlock or serialization failure (a lock order not foreseen above) rolled the statement back
  // whole, and the same statement again will very likely pass: it is tried again, up to
  // CLAIM_CHECK_RELEASE_ATTEMPTS times, before it is reported and the payload left held.
  const release = async (message: Message, opts: SubscribeOptions): Promise<void> => {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await pool.query(RELEASE_SQL, [message.id, opts.subscription]);
          return;
        } catch (cause) {
          if (attempt >= CLAIM_CHECK_RELEASE_ATTEMPTS || asTransactionConflict(cause) === undefined) throw cause;
        }
      }
    } catch (cause) {
      const error = new ClaimCheckReleaseError(message.id, opts.subscription, cause);
      try {
        if (opts.onError === undefined) process.emitWarning(error.message, 'ClaimCheckReleaseError');
        else opts.onError(error);
      } catch {
        // A throwing reporter must not fail a message its handler handled.
      }
    }
  };

  // Holds the payload again for the subscription a redrive sends the message to, and restarts its
  // grace, in one statement; no row back means the payload is gone (purged). Before the redelivery, so
  // that the handler's release always comes after it. On a connection of its own, committed at once,
  // while the redrive's transaction holds the letter's lock: so whatever locks both a letter and its
  // reference takes the letter first (dropDeadLetter), or it waits for this statement while this waits
  // for it, a deadlock PostgreSQL cannot see (decision 0016).
  const hold = async (sha256: string, messageId: string, subscription: string): Promise<void> => {
    const { rowCount } = await pool.query(
      `with c as (update brigade_bus.claim_checks set created_at = now() where sha256 = $1 returning sha256)
       insert into brigade_bus.claim_check_refs (sha256, message_id, subscription)
       select c.sha256, $2, $3 from c
       on conflict (message_id, subscription) do update set released_at = null`,
      [sha256, messageId, subscription],
    );
    if (rowCount === 0) throw new ClaimCheckMissingError(sha256);
  };

  return {
    kind: transport.kind,
    ...(transport.busPool === undefined ? {} : { busPool: transport.busPool }),
    publish: async (messages) => transport.publish(await check(messages)),
    ensureSubscription: (spec) => transport.ensureSubscription(spec),
    subscribe: (opts: SubscribeOptions, handler: MessageHandler) => {
      const { handled } = opts;
      // A message the inbox check finds handled (its worker lost before the ack) is acked: its reference
      // is released then, as after a handler's success, or it would keep its payload for ever.
      const checked: SubscribeOptions =
        handled === undefined
          ? opts
          : {
              ...opts,
              handled: async (message) => {
                const was = await handled(message);
                if (was && message.headers[CLAIM_CHECK_HEADER]) await release(message, opts);
                return was;
              },
            };
      return transport.subscribe(checked, async (message) => {
        await handler(await resolve(message));
        if (message.headers[CLAIM_CHECK_HEADER]) await release(message, opts);
      });
    },
    redeliver: async (subscription, message) => {
      const sha256 = message.headers[CLAIM_CHECK_HEADER];
      // A dead letter keeps the reference form (its payload column is null): the payload must still be there.
      if (sha256) await hold(sha256, message.id, subscription);
      return transport.redeliver(subscription, message);
    },
    close: () => transport.close(),
  };
}
