import type pg from 'pg';
import { DeadLetterNotFoundError } from '../errors.ts';
import { deadLetterId } from './deadLetterId.ts';
import { DEAD_LETTER_COLUMNS, toDeadLetter, type DeadLetter } from './types.ts';

/** One dead letter (`brigade dlq show ID`). Throws `NotFoundError` (404) for an unknown or malformed id. */
export async function showDeadLetter(pool: pg.Pool, id: string): Promise<DeadLetter> {
  const { rows } = await pool.query(`select ${DEAD_LETTER_COLUMNS} from brigade_bus.dead_letters d where d.id = $1::uuid`, [deadLetterId(id)]);
  if (rows.length === 0) throw new DeadLetterNotFoundError(id);
  return toDeadLetter(rows[0]);
}
