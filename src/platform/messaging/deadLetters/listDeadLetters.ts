import type pg from 'pg';
import { DEAD_LETTER_COLUMNS, toDeadLetter, type DeadLetter } from './types.ts';

/** Filters for {@link listDeadLetters}. */
export interface ListDeadLettersOptions {
  /** Only this subscription's dead letters. */
  readonly subscription?: string;
  /** At most this many, newest failure first. Default 100. */
  readonly limit?: number;
}

/**
 * The statement of {@link listDeadLetters} (exported for its plan's test): `$1` the subscription or
 * null, `$2` the limit. The parameters are bound when it is planned, so the planner drops whichever
 * half of the `or` does not apply: with a subscription it reads `dead_letters_subscription_idx`,
 * without one `dead_letters_last_failed_at_idx` backwards, and stops after `$2` rows either way.
 */
export const LIST_DEAD_LETTERS_SQL = `select ${DEAD_LETTER_COLUMNS} from brigade_bus.dead_letters d
     where ($1::text is null or d.subscription = $1)
     order by d.last_failed_at desc, d.id desc
     limit $2`;

/** The dead letters, newest failure first (`brigade dlq list [--subscription S]`). */
export async function listDeadLetters(pool: pg.Pool, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
  const { rows } = await pool.query(LIST_DEAD_LETTERS_SQL, [options.subscription ?? null, Math.max(1, Math.min(options.limit ?? 100, 10_000))]);
  return rows.map(toDeadLetter);
}
