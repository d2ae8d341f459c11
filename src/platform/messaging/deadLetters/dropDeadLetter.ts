import type pg from 'pg';
import { DeadLetterNotFoundError } from '../errors.ts';
import { deadLetterId } from './deadLetterId.ts';

/**
 * Deletes a dead letter for good (`brigade dlq drop ID`), and its claim-check reference, so a
 * claim-checked payload nobody else needs can expire. Throws `NotFoundError` (404) for an unknown or
 * malformed id.
 */
export async function dropDeadLetter(pool: pg.Pool, id: string): Promise<void> {
  const { rows } = await pool.query(
    `with gone as (delete from brigade_bus.dead_letters where id = $1::uuid returning subscription, message_id),
     refs as (
       delete from brigade_bus.claim_check_refs r using gone
       where r.message_id = gone.message_id and r.subscription = gone.subscription
     )
     select count(*)::int as n from gone`,
    [deadLetterId(id)],
  );
  if (rows[0].n !== 1) throw new DeadLetterNotFoundError(id);
}
