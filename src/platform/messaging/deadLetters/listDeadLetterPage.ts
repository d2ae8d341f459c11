import type pg from 'pg';
import { ValidationError } from '../../errors/index.ts';
import { isUuid } from '../../ids/index.ts';
import { DeadLetterCursorGoneError } from '../errors.ts';
import { checkSubscriptionNamed } from './checkSubscriptionNamed.ts';
import { deadLetterListLimit, LIST_DEAD_LETTERS_SQL, type ListDeadLettersOptions } from './listDeadLetters.ts';
import { toDeadLetter, type DeadLetter } from './types.ts';

/** One page of dead letters: the letters, how many there are in all, and where the next page starts. */
export interface DeadLetterPage {
  /** Newest failure first, at most the limit. */
  readonly deadLetters: readonly DeadLetter[];
  /** How many dead letters there are (of the subscription, if one was given), on every page. */
  readonly total: number;
  /** The id to pass as `before` for the next page; `null` on the last page. */
  readonly next: string | null;
}

/**
 * A page of the dead letters, newest failure first (`GET /v1/admin/dead-letters`, `brigade dlq list`):
 * pass the page's `next` as `before` to get the one after it. The page, the total and the check of the
 * cursor are read in one snapshot (a read-only repeatable-read transaction), so they agree.
 *
 * @throws ValidationError when `before` is not a dead letter id (a UUID).
 * @throws NoSuchSubscriptionError (400) when `subscription` names no subscription (neither the
 *   registry's nor a letter's): a typo, which was answered as an empty list.
 * @throws DeadLetterCursorGoneError (409) when the letter named by `before` is no longer there
 *   (redriven or dropped since the page that ended with it): its place in the order is gone with it.
 * @example
 * let page = await listDeadLetterPage(pool, { limit: 500 });
 * while (page.next !== null) page = await listDeadLetterPage(pool, { limit: 500, before: page.next });
 */
export async function listDeadLetterPage(pool: pg.Pool, options: ListDeadLettersOptions = {}): Promise<DeadLetterPage> {
  const limit = deadLetterListLimit(options.limit);
  const before = options.before === undefined ? null : options.before.toLowerCase();
  if (before !== null && !isUuid(before)) {
    throw new ValidationError(`before must be the id of a dead letter (a UUID, as the last page's next), got ${JSON.stringify(options.before)}`, { field: 'before' });
  }
  const subscription = options.subscription ?? null;
  const client = await pool.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    if (subscription !== null) await checkSubscriptionNamed(client, subscription);
    if (before !== null && (await client.query('select 1 from brigade_bus.dead_letters where id = $1::uuid', [before])).rowCount === 0) {
      throw new DeadLetterCursorGoneError(before);
    }
    // One row more than the page tells whether there is a next page.
    const { rows } = await client.query(LIST_DEAD_LETTERS_SQL, [subscription, limit + 1, before]);
    const { rows: count } = await client.query<{ n: number }>(
      'select count(*)::int as n from brigade_bus.dead_letters where ($1::text is null or subscription = $1)',
      [subscription],
    );
    await client.query('commit');
    const deadLetters = rows.slice(0, limit).map(toDeadLetter);
    return { deadLetters, total: count[0]?.n ?? 0, next: rows.length > limit ? deadLetters[deadLetters.length - 1]!.id : null };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
