import type pg from 'pg';
import { NotFoundError } from '../../errors/index.ts';
import { DEAD_LETTER_COLUMNS, toDeadLetter, type DeadLetter } from './types.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One dead letter (`brigade dlq show ID`). Throws `NotFoundError` (404) for an unknown or malformed id. */
export async function showDeadLetter(pool: pg.Pool, id: string): Promise<DeadLetter> {
  if (!UUID.test(id)) throw new NotFoundError('Dead letter', id);
  const { rows } = await pool.query(`select ${DEAD_LETTER_COLUMNS} from brigade_bus.dead_letters d where d.id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError('Dead letter', id);
  return toDeadLetter(rows[0]);
}
