import type pg from 'pg';
import { NotFoundError } from '../../errors/index.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Deletes a dead letter for good (`brigade dlq drop ID`), and its claim-check reference, so a
 * claim-checked payload nobody else needs can expire. Throws `NotFoundError` for an unknown id.
 */
export async function dropDeadLetter(pool: pg.Pool, id: string): Promise<void> {
  if (!UUID.test(id)) throw new NotFoundError('Dead letter', id);
  const { rows } = await pool.query(
    `with gone as (delete from brigade_bus.dead_letters where id = $1 returning subscription, message_id),
     refs as (
       delete from brigade_bus.claim_check_refs r using gone
       where r.message_id = gone.message_id and r.subscription = gone.subscription
     )
     select count(*)::int as n from gone`,
    [id],
  );
  if (rows[0].n !== 1) throw new NotFoundError('Dead letter', id);
}
