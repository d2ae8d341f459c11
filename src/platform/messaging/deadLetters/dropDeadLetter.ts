import type pg from 'pg';
import { poolTransaction } from '../../db/index.ts';
import { DeadLetterNotFoundError } from '../errors.ts';
import { deadLetterId } from './deadLetterId.ts';
import { heldAsBusy } from './heldAsBusy.ts';

/**
 * Deletes a dead letter for good (`brigade dlq drop ID`), and releases its claim-check reference, so a
 * claim-checked payload nobody else needs can expire; unless another letter of the same message and
 * subscription is still parked, which still needs the payload to go back. (Since platform migration
 * 0030 a subscription holds at most one letter of a message, so there is none; the check stays, as
 * cheap as it is.) Throws `NotFoundError` (404) for an unknown or malformed id, and
 * `DeadLetterBusyError` (`heldAsBusy`) (409 `DEAD_LETTER_BUSY`: retry) for a letter a redrive or another drop
 * holds right now.
 *
 * One transaction: the reference is locked before the letter goes, so that two drops of the two
 * letters of one message queue on it, and the second, whose check for a remaining letter then reads
 * the first's committed delete, releases it. (In one statement both read a snapshot that still held the
 * other's letter, and neither released it.)
 *
 * Locks in the order a redrive takes them: the letter, then the reference. A redrive locks its letter
 * in its transaction and then, for a claim-checked message, holds the reference again in a statement of
 * its own on another connection (`withClaimCheck`'s `redeliver`). The drop used to lock the reference
 * first and then wait for the letter, while that statement waited for the reference and the redrive's
 * transaction waited for the statement, in Node: a cycle PostgreSQL cannot see, so both hung for good.
 * A drop then waited for the redrive's letter (as long as the redrive's broker round trip) and found it
 * gone; now it does not wait (`nowait`, SQLSTATE 55P03): it answers `DEAD_LETTER_BUSY` at once, as a
 * second redrive of the letter does, since the other may yet fail and leave the letter parked.
 */
export async function dropDeadLetter(pool: pg.Pool, id: string): Promise<void> {
  const letterId = deadLetterId(id);
  await poolTransaction(pool, async (client) => {
    const { rows } = await client
      .query<{ subscription: string; message_id: string }>('select subscription, message_id::text as message_id from brigade_bus.dead_letters where id = $1::uuid for update nowait', [letterId])
      .catch(heldAsBusy(letterId));
    const letter = rows[0];
    if (letter === undefined) throw new DeadLetterNotFoundError(id);
    await client.query('select from brigade_bus.claim_check_refs where message_id = $1 and subscription = $2 for update', [letter.message_id, letter.subscription]);
    const { rowCount } = await client.query('delete from brigade_bus.dead_letters where id = $1::uuid', [letterId]);
    // Locked above, so it is still there; checked all the same.
    if (rowCount !== 1) throw new DeadLetterNotFoundError(id);
    await client.query(
      `update brigade_bus.claim_check_refs r set released_at = now()
        where r.message_id = $1 and r.subscription = $2 and r.released_at is null
          and not exists (select from brigade_bus.dead_letters d where d.message_id = $1 and d.subscription = $2)`,
      [letter.message_id, letter.subscription],
    );
  });
}
