import type pg from 'pg';
import { newMessageId } from '../newMessageId.ts';
import type { OutgoingMessage } from '../types.ts';

/**
 * Parks a message a transport gave up on (the JetStream transport; the PostgreSQL transport moves rows
 * in one statement of its own). Clears its `failures` row in the same statement. Returns the dead letter's id.
 *
 * `exhausted`: the message came back past its last attempt, which was never settled (its worker died,
 * or storing its dead letter failed): `error` is the note that says so, written after the last handler
 * error its `failures` row kept, when there is one. `id`: the letter's id, when its error must name it
 * (default a new one).
 */
export async function storeDeadLetter(
  pool: pg.Pool,
  entry: {
    readonly subscription: string;
    readonly message: OutgoingMessage;
    readonly error: string;
    readonly attempts: number;
    readonly transport: string;
    readonly exhausted?: boolean;
    readonly id?: string;
  },
): Promise<string> {
  const id = entry.id ?? newMessageId();
  const m = entry.message;
  await pool.query(
    `with f as (delete from brigade_bus.failures where subscription = $2 and message_id = $3 returning first_failed_at, last_error)
     insert into brigade_bus.dead_letters
       (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
     select $1, $2, $3, $4, $5, $6, $7,
            case when $11::boolean then coalesce((select last_error from f) || E'\\n' || $8::text, $8::text) else $8::text end,
            $9, coalesce((select first_failed_at from f), now()), now(), $10`,
    [id, entry.subscription, m.id, m.subject, m.key, JSON.stringify(m.headers), JSON.stringify(m.payload ?? null), entry.error, entry.attempts, entry.transport, entry.exhausted === true],
  );
  return id;
}
