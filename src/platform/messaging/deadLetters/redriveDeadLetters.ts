import type pg from 'pg';
import {
  ClaimCheckMissingError,
  DeadLetterNotFoundError,
  DeadLetterTransportMismatchError,
  DeadLetterUndecodableError,
  InvalidMessageError,
  RedriveInterruptedError,
  SubscriptionSubjectMismatchError,
  UnknownSubscriptionError,
} from '../errors.ts';
import { isBadInstant } from '../../db/index.ts';
import { ValidationError } from '../../errors/index.ts';
import { isUuid } from '../../ids/index.ts';
import type { Transport } from '../types.ts';
import { checkSubscriptionNamed } from './checkSubscriptionNamed.ts';
import { deadLetterId } from './deadLetterId.ts';
import { heldAsBusy } from './heldAsBusy.ts';
import { DEAD_LETTER_COLUMNS, STREAM_SEQUENCE_HEADER, toDeadLetter, UNDECODABLE_HEADER, type DeadLetter } from './types.ts';

/** Which dead letters {@link redriveDeadLetters} sends back. */
export type RedriveSelection = { readonly id: string } | { readonly all: true; readonly subscription?: string };

/**
 * Where a run of an `all` redrive stopped, for the next run to go on from ({@link RedriveOptions.from}):
 * after the letter `after`, up to the letter `until`, the last one there when the first run began.
 */
export interface RedriveCursor {
  /** The id of the last letter the run took (sent back or not). */
  readonly after: string;
  /** The id of the last letter of the selection when the first run began: letters with later ids are not taken. */
  readonly until: string;
  /**
   * The database's time when the first run began (ISO 8601): letters parked since (`last_failed_at`,
   * stamped by the database) are not taken, whatever their id. An id is a UUID v7 from the clock of the
   * host that parked the letter, and one behind can park a letter that fails again under an id below
   * `until`. A cursor without it (an older client's) bounds the run by the time it begins.
   */
  readonly parkedBy?: string;
}

/** What {@link redriveDeadLetters} did: how many went back, and the ones that could not, with why. */
export interface RedriveOutcome {
  readonly redriven: number;
  readonly failed: ReadonlyArray<{ readonly id: string; readonly subscription: string; readonly error: string }>;
  /**
   * An `all` redrive only: how many letters of the selection the run did not get to (its
   * {@link RedriveOptions.limit} reached, or stopped by its {@link RedriveOptions.signal}); they stay
   * parked. 0 when it went through them all.
   */
  readonly left?: number;
  /** An `all` redrive only: where the next run goes on from ({@link RedriveOptions.from}), or `null` when none is {@link left}. */
  readonly next?: RedriveCursor | null;
}

/** Where an `all` redrive is: after the letters are counted (0 done), then after each letter. */
export interface RedriveProgress {
  /** Letters sent back so far. */
  readonly redriven: number;
  /** Letters that could not go back so far (they stay; the outcome says why). */
  readonly failed: number;
  /** The letters of the selection when the run began (after its {@link RedriveOptions.from}, if any). */
  readonly total: number;
}

/** The letters a run of an `all` redrive takes when no {@link RedriveOptions.limit} is given. */
export const DEFAULT_REDRIVE_LIMIT = 1_000;
/** The most letters one run of an `all` redrive takes. */
export const MAX_REDRIVE_LIMIT = 10_000;

/** Options of an `all` redrive (a single id is one letter: it takes none). */
export interface RedriveOptions {
  /** Called once the letters are counted, then after each letter: `brigade dlq redrive --all` shows it every second. */
  readonly onProgress?: (progress: RedriveProgress) => void;
  /**
   * Aborted (Ctrl+C; over HTTP, the client gone or the server shutting down), the run stops before the
   * next letter: the one in flight finishes (sent back and removed, or left parked), and the outcome
   * says how many are {@link RedriveOutcome.left} and where to go on from ({@link RedriveOutcome.next}).
   */
  readonly signal?: AbortSignal;
  /**
   * The most letters (sent back or not) this run takes: an integer from 1 to {@link MAX_REDRIVE_LIMIT},
   * default {@link DEFAULT_REDRIVE_LIMIT}. A run of every letter took them all in one call, which over
   * HTTP was one request of minutes (about 70 letters a second) that no client or proxy waited for.
   */
  readonly limit?: number;
  /**
   * Goes on from where an earlier run stopped: its {@link RedriveOutcome.next}. Without `until`, up to
   * the last letter there now; without `after`, from the first; without `parkedBy`, the letters parked
   * before this run.
   */
  readonly from?: Partial<RedriveCursor>;
}

/**
 * The letters of a redrive run (`d`): of subscription `$1` (null: any), after id `$2` up to id `$3`, parked
 * by the database's time `$4` (see {@link redriveSelectSql}).
 */
const RUN_LETTERS = '($1::text is null or d.subscription = $1) and d.id > $2::uuid and d.id <= $3::uuid and d.last_failed_at <= $4::timestamptz';

/**
 * The statement that picks and locks the next dead letter {@link redriveDeadLetters} sends back
 * (exported for its plan's test): by id, `$1` is the id, compared as a uuid so that the primary key
 * finds it (compared as text, every dead letter was read and cast); else `$1` is the subscription or
 * null for all, `$2` the id after which to look, `$3` the last id when the redrive began, and `$4` the
 * database's time then. A letter that fails again after going back is parked anew, and the same redrive
 * must not take it: its `last_failed_at` (the database's clock, stamped as it is parked, after it was
 * sent back) is later than `$4`. Its id alone cannot say so: a UUID v7 from the parking host's clock, one
 * behind the host that parked the newest letter gives an id below `$3`.
 *
 * By id, `nowait`: a letter another redrive or drop holds fails at once (55P03), and is answered
 * `DEAD_LETTER_BUSY`. With `skip locked`, as the walk of many takes them, it was skipped, found "not
 * there" and answered 404, though it was there and stayed when the other redrive failed.
 */
export function redriveSelectSql(byId: boolean): string {
  return `select ${DEAD_LETTER_COLUMNS} from brigade_bus.dead_letters d
       where ${byId ? 'd.id = $1::uuid' : RUN_LETTERS}
       order by d.id limit 1 for update ${byId ? 'nowait' : 'skip locked'}`;
}

/**
 * Sends dead letters back to their subscription (`brigade dlq redrive ID|--all`): each is redelivered
 * through the transport to that one subscription, with its original message id (so the inbox still
 * dedupes it) and attempts starting at 1, then removed from the store.
 *
 * One transaction per letter: a redrive of many letters used to hold one transaction open across every
 * broker round trip, and every relay and subscriber of the cluster, which read below the oldest running
 * transaction (decision 0011), waited for all of it; and one letter that could not go back (its
 * subscription removed or changed) rolled back the removal of every letter already sent, so each retry
 * sent those again and `--all` never finished. Now a letter that cannot go back (its subscription gone,
 * or no longer taking its subject, or its claim-checked payload purged) stays, and is reported in
 * `failed` with the reason; the others go on. So does a letter parked by the other transport
 * ({@link DeadLetterTransportMismatchError}: both share the subscription registry, so a PostgreSQL
 * redrive would take a JetStream letter into `brigade_bus.deliveries`, which no JetStream worker reads),
 * and one whose claim-checked payload was purged (the claim-check wrapper's `redeliver` checks it, and
 * holds the payload again for the subscription), and one of a message published onto the stream outside
 * the platform, which no handler could take ({@link DeadLetterUndecodableError}: it would only be parked
 * again; fix the publisher and drop it). Any other failure is the transport's (the broker down):
 * every later letter would fail the same way, each after its own timeout, and be reported as if it
 * were at fault, so the redrive stops there with {@link RedriveInterruptedError} (503), which counts
 * what went back; the rest stay parked. A single id that cannot go back throws, as before (its
 * subscription gone: {@link UnknownSubscriptionError}, 409; its subscription no longer taking its
 * subject: {@link SubscriptionSubjectMismatchError}, 409, which was a 400 `MESSAGE_INVALID` naming a
 * `subject` field no request has; each naming the letter and what to do), one that
 * another redrive or drop holds right now throws `DeadLetterBusyError` (`heldAsBusy`) (409: retry; it may yet
 * stay), and an unknown or malformed id throws `NotFoundError` (404). An `all` redrive of a subscription that names none
 * (neither the registry's nor a letter's: a typo) throws `NoSuchSubscriptionError` (400) before it
 * starts; it used to send 0 and report success.
 *
 * An `all` redrive runs in bounded runs: each takes at most {@link RedriveOptions.limit} letters (default
 * 1,000) and says how many it did not get to ({@link RedriveOutcome.left}) and where the next run goes on
 * from ({@link RedriveOutcome.next}, passed back as {@link RedriveOptions.from}); it reports where it is
 * ({@link RedriveOptions.onProgress}) and stops between letters when its {@link RedriveOptions.signal}
 * aborts. The cursor keeps the letters the first run counted: the letters a run could not send back are
 * not taken again by the next, nor is a letter parked since (one that failed again after going back).
 *
 * @example
 * let run = await redriveDeadLetters(pool, transport, { all: true }, { limit: 500 });
 * while (run.next) run = await redriveDeadLetters(pool, transport, { all: true }, { limit: 500, from: run.next });
 *
 * The letter is deleted and the message redelivered in one transaction, committed once the transport
 * accepted the message: a crash before the commit leaves the row parked and the message perhaps
 * delivered; a second redrive delivers it again, which the inbox absorbs. Rows are locked (`for update
 * skip locked` by a redrive of many, `nowait` by id) so two concurrent redrives do not send the same row twice.
 */
export async function redriveDeadLetters(pool: pg.Pool, transport: Transport, selection: RedriveSelection, options: RedriveOptions = {}): Promise<RedriveOutcome> {
  if ('id' in selection) {
    // Checked before a connection is taken: a malformed id is NOT_FOUND, as an unknown one.
    const id = deadLetterId(selection.id);
    const sent = await redriveNext(pool, transport, redriveSelectSql(true), [id]).catch(heldAsBusy(id));
    if (sent === null) throw new DeadLetterNotFoundError(selection.id);
    if (sent.error !== undefined) throw ofTheLetter(sent.letter, sent.error);
    return { redriven: 1, failed: [] };
  }
  const limit = redriveLimit(options.limit);
  const subscription = selection.subscription ?? null;
  let after = cursorId(options.from?.after, 'after') ?? FIRST;
  if (subscription !== null) await checkSubscriptionNamed(pool, subscription);
  // The last id and the database's time (unless the cursor names them) and the count in one statement
  // (one snapshot): the count is of the letters after the cursor up to that id, parked by that time.
  // The time as JSON text: ISO 8601 with microseconds, which reads back as the same timestamptz.
  // The only statement that binds the cursor's parkedBy as sent: one PostgreSQL cannot hold is refused
  // here, before any letter is taken (the later ones bind the time this one answers).
  const parkedByGiven = cursorTime(options.from?.parkedBy);
  const { rows: last } = await pool.query<{ until: string | null; parked_by: string; total: number }>(
    `with u as (select coalesce($3::uuid, (select d.id from brigade_bus.dead_letters d where ($1::text is null or d.subscription = $1) order by d.id desc limit 1)) as id,
                       coalesce($4::timestamptz, now()) as parked_by)
     select u.id::text as until, to_json(u.parked_by) #>> '{}' as parked_by,
            (select count(*)::int from brigade_bus.dead_letters d
              where ($1::text is null or d.subscription = $1) and d.id > $2::uuid and d.id <= u.id and d.last_failed_at <= u.parked_by) as total
       from u`,
    [subscription, after, cursorId(options.from?.until, 'until') ?? null, parkedByGiven],
  ).catch((error: unknown) => {
    if (parkedByGiven !== null && isBadInstant(error)) throw badParkedBy(parkedByGiven, 'is not an instant PostgreSQL can hold (year 0000, or a zone offset beyond ±15:59)');
    throw error;
  });
  const until = last[0]?.until ?? after;
  const parkedBy = last[0]!.parked_by;
  const total = last[0]?.total ?? 0;
  let redriven = 0;
  const failed: Array<RedriveOutcome['failed'][number]> = [];
  /** The run stopped before the end (its limit, or its signal): what is left counted now, after the last letter it took. */
  const stopped = async (): Promise<RedriveOutcome> => {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from brigade_bus.dead_letters d where ${RUN_LETTERS}`,
      [subscription, after, until, parkedBy],
    );
    const left = rows[0]?.n ?? 0;
    return { redriven, failed, left, next: left === 0 ? null : { after, until, parkedBy } };
  };
  options.onProgress?.({ redriven, failed: 0, total });
  for (let taken = 0; ; taken++) {
    // Between letters only: the one in flight has finished (its transaction committed or rolled back).
    if (taken >= limit || options.signal?.aborted === true) return stopped();
    const sent = await redriveNext(pool, transport, redriveSelectSql(false), [subscription, after, until, parkedBy]);
    if (sent === null) return { redriven, failed, left: 0, next: null };
    after = sent.letter.id;
    if (sent.error === undefined) redriven++;
    else if (isTheLetters(sent.error)) failed.push({ id: sent.letter.id, subscription: sent.letter.subscription, error: ofTheLetter(sent.letter, sent.error).message });
    else throw new RedriveInterruptedError(redriven, failed, sent.error);
    options.onProgress?.({ redriven, failed: failed.length, total });
  }
}

/** The id before every dead letter's: where a run with no cursor starts. */
const FIRST = '00000000-0000-0000-0000-000000000000';

/** {@link RedriveOptions.limit}, checked: its default, or an integer from 1 to {@link MAX_REDRIVE_LIMIT}. */
function redriveLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_REDRIVE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REDRIVE_LIMIT) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_REDRIVE_LIMIT} (letters in one run of the redrive), got ${limit}`, { field: 'limit' });
  }
  return limit;
}

/** An id of {@link RedriveOptions.from}, checked (a dead letter id: a UUID, as an earlier run's `next` gives it), lower case; `undefined` when not given. */
function cursorId(id: string | undefined, field: 'after' | 'until'): string | undefined {
  if (id === undefined) return undefined;
  if (!isUuid(id)) throw new ValidationError(`${field} must be a dead letter id (a UUID: the ${field} of an earlier run's next), got ${JSON.stringify(id)}`, { field });
  return id.toLowerCase();
}

/**
 * {@link RedriveCursor.parkedBy}, checked (an ISO 8601 time, as an earlier run's `next` gives it); `null`
 * when not given. One that passes but PostgreSQL cannot hold (year 0000, an offset past ±15:59) is
 * refused by the first statement ({@link isBadInstant}), as the menu's `asOf` and the pause's `until` are.
 */
function cursorTime(time: string | undefined): string | null {
  if (time === undefined) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.test(time) || Number.isNaN(Date.parse(time))) {
    throw badParkedBy(time, 'must be a time (ISO 8601)');
  }
  return time;
}

/** 400 on `parkedBy`: `time`, what is wrong with it, and what to send instead. */
function badParkedBy(time: string, wrong: string): ValidationError {
  return new ValidationError(`parkedBy ${JSON.stringify(time)} ${wrong}: send the parkedBy of an earlier run's next, unchanged, or leave it out to start a new run`, { field: 'parkedBy' });
}

/**
 * A transport's refusal of a letter, as the operator is told it: naming the letter and what to do with
 * it (`brigade dlq drop ID`, when it cannot go back). The transport names only the subscription. The
 * same words for a redrive of that letter (thrown) and in a redrive of many (`failed[].error`), which
 * gave the transport's alone ("'brigade migrate' creates the platform's subscriptions"), without the drop.
 */
function ofTheLetter<E>(letter: DeadLetter, error: E): E | UnknownSubscriptionError | ClaimCheckMissingError | SubscriptionSubjectMismatchError {
  if (error instanceof UnknownSubscriptionError) return new UnknownSubscriptionError(letter.subscription, { cause: error, deadLetter: letter.id });
  if (error instanceof ClaimCheckMissingError) return new ClaimCheckMissingError(String(error.details.sha256), { cause: error, deadLetter: letter.id });
  if (error instanceof SubscriptionSubjectMismatchError) {
    const { subscription, pattern, subject } = error.details as { subscription: string; pattern: string; subject: string };
    return new SubscriptionSubjectMismatchError(subscription, pattern, subject, { cause: error, deadLetter: letter.id });
  }
  return error;
}

/** Whether a redelivery failed for a reason of the letter's own, which the next letter does not share. */
function isTheLetters(error: unknown): error is Error {
  return (
    error instanceof UnknownSubscriptionError ||
    error instanceof SubscriptionSubjectMismatchError ||
    error instanceof InvalidMessageError ||
    error instanceof ClaimCheckMissingError ||
    error instanceof DeadLetterTransportMismatchError ||
    error instanceof DeadLetterUndecodableError
  );
}

/** Sends back the dead letter `sql` picks, in a transaction of its own: `null` when there is none, else the letter and, if it stayed, why. */
async function redriveNext(pool: pg.Pool, transport: Transport, sql: string, params: unknown[]): Promise<{ letter: DeadLetter; error?: unknown } | null> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query(sql, params);
    if (rows.length === 0) {
      await client.query('commit');
      return null;
    }
    const letter = toDeadLetter(rows[0]);
    // A message published onto the stream outside the platform, which no handler could take: sent
    // back, it would only be parked again. Refused first, whatever the transport: neither can send it.
    const undecodable = letter.message.headers[UNDECODABLE_HEADER];
    if (undecodable !== undefined) {
      await client.query('rollback');
      return { letter, error: new DeadLetterUndecodableError(letter.id, undecodable, letter.message.headers[STREAM_SEQUENCE_HEADER]) };
    }
    // Each transport's workers read only their own broker: a letter sent back through the other one is lost there.
    if (letter.transport !== transport.kind) {
      await client.query('rollback');
      return { letter, error: new DeadLetterTransportMismatchError(letter.id, letter.transport, transport.kind) };
    }
    // Deleted before it is sent back, in this transaction: a failure of the redriven message parked
    // before the commit waits for it on the one-letter-per-message index and is stored once it is gone.
    // Deleted after, that park would meet the old letter and store nothing (the message being parked
    // already), and the delete would then take the only letter: the message lost.
    await client.query('delete from brigade_bus.dead_letters where id = $1', [letter.id]);
    try {
      await transport.redeliver(letter.subscription, letter.message);
    } catch (error) {
      await client.query('rollback');
      return { letter, error };
    }
    await client.query('commit');
    return { letter };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
