import type pg from 'pg';
import { NotFoundError } from '../../errors/index.ts';
import type { Transport } from '../types.ts';
import { deadLetterId } from './deadLetterId.ts';
import { DEAD_LETTER_COLUMNS, toDeadLetter } from './types.ts';

/** Which dead letters {@link redriveDeadLetters} sends back. */
export type RedriveSelection = { readonly id: string } | { readonly all: true; readonly subscription?: string };

/**
 * The statement that picks and locks what {@link redriveDeadLetters} sends back (exported for its
 * plan's test): by id, `$1` is the id, compared as a uuid so that the primary key finds it (compared
 * as text, every dead letter was read and cast); else `$1` is the subscription or null for all.
 */
export function redriveSelectSql(byId: boolean): string {
  return `select ${DEAD_LETTER_COLUMNS} from brigade_bus.dead_letters d
       where ${byId ? 'd.id = $1::uuid' : '($1::text is null or d.subscription = $1)'}
       order by d.id for update skip locked`;
}

/**
 * Sends dead letters back to their subscription (`brigade dlq redrive ID|--all`): each is redelivered
 * through the transport to that one subscription, with its original message id (so the inbox still
 * dedupes it) and attempts starting at 1, then removed from the store. Returns how many went back.
 * An unknown or malformed id throws `NotFoundError` (404).
 *
 * Redeliver-then-delete: a crash between the two leaves the row parked and the message delivered; a
 * second redrive delivers it again, which the inbox absorbs. The other order could lose it.
 * Rows are locked (`for update skip locked`) so two concurrent redrives do not send the same row twice.
 */
export async function redriveDeadLetters(pool: pg.Pool, transport: Transport, selection: RedriveSelection): Promise<number> {
  const byId = 'id' in selection;
  // Checked before a connection is taken: a malformed id is NOT_FOUND, as an unknown one.
  const key = byId ? deadLetterId(selection.id) : (selection.subscription ?? null);
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query(redriveSelectSql(byId), [key]);
    if (byId && rows.length === 0) throw new NotFoundError('Dead letter', selection.id);
    for (const row of rows) {
      const letter = toDeadLetter(row);
      await transport.redeliver(letter.subscription, letter.message);
      await client.query('delete from brigade_bus.dead_letters where id = $1', [letter.id]);
    }
    await client.query('commit');
    return rows.length;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
