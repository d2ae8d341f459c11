import type pg from 'pg';
import { DEAD_LETTER_COLUMNS, toDeadLetter, type DeadLetter } from './types.ts';

/** Filters for {@link listDeadLetters}. */
export interface ListDeadLettersOptions {
  /** Only this subscription's dead letters. */
  readonly subscription?: string;
  /** At most this many, newest failure first. Default 100, at most 10,000. */
  readonly limit?: number;
  /**
   * Only those listed after this dead letter (its id): the next page after one that ended with it.
   * A letter no longer there (redriven or dropped) has no place in the order: nothing is listed then;
   * {@link listDeadLetterPage} tells the two apart.
   */
  readonly before?: string;
}

/** The most a list returns at once. */
export const MAX_DEAD_LETTER_LIST = 10_000;

/** The limit a list reads with: `limit` (default 100) kept within 1 and {@link MAX_DEAD_LETTER_LIST}. */
export function deadLetterListLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(limit ?? 100, MAX_DEAD_LETTER_LIST));
}

/**
 * The statement of {@link listDeadLetters} (exported for its plan's test): `$1` the subscription or
 * null, `$2` the limit, `$3` the id of the letter the page starts after, or null. The parameters are
 * bound when it is planned, so the planner drops whichever half of each `or` does not apply: with a
 * subscription it reads `dead_letters_subscription_idx`, without one `dead_letters_last_failed_at_idx`
 * (last_failed_at, id) backwards, from the cursor's row on, and stops after `$2` rows either way. The
 * cursor is the row's (last_failed_at, id), the order's own key, so no letter is skipped or shown twice
 * across pages while letters are parked meanwhile (they are newer: they go on the first page).
 */
export const LIST_DEAD_LETTERS_SQL = `select ${DEAD_LETTER_COLUMNS} from brigade_bus.dead_letters d
     where ($1::text is null or d.subscription = $1)
       and ($3::uuid is null or (d.last_failed_at, d.id) < (select c.last_failed_at, c.id from brigade_bus.dead_letters c where c.id = $3::uuid))
     order by d.last_failed_at desc, d.id desc
     limit $2`;

/** The dead letters, newest failure first (`brigade dlq list [--subscription S] [--before ID]`). */
export async function listDeadLetters(pool: pg.Pool, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
  const { rows } = await pool.query(LIST_DEAD_LETTERS_SQL, [options.subscription ?? null, deadLetterListLimit(options.limit), options.before ?? null]);
  return rows.map(toDeadLetter);
}
