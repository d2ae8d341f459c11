import type pg from 'pg';
import { newMessageId } from '../newMessageId.ts';
import type { OutgoingMessage } from '../types.ts';

/**
 * Parks a message a transport gave up on (the JetStream transport; the PostgreSQL transport moves rows
 * in one statement of its own). Clears its `failures` row in the same statement. Returns the dead
 * letter's id, or `null` when the message is parked in that subscription already (one letter per
 * subscription and message, decision 0016, "Fixed later: attempts that ran…"): a worker that stored the
 * letter and died, or was slow, before its TERM; the message is only settled then, and the letter there
 * stays as it is. A letter being deleted by a redrive's open transaction is waited for: the redrive
 * deletes it before it sends the message back, so a failure of the redriven message is parked anew.
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
): Promise<string | null> {
  const id = entry.id ?? newMessageId();
  const m = entry.message;
  const { rowCount } = await pool.query(
    `with f as (delete from brigade_bus.failures where subscription = $2 and message_id = $3 returning first_failed_at, last_error)
     insert into brigade_bus.dead_letters
       (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
     select $1, $2, $3, $4, $5, $6, $7,
            case when $11::boolean then coalesce((select last_error from f) || E'\\n' || $8::text, $8::text) else $8::text end,
            $9, coalesce((select first_failed_at from f), now()), now(), $10
     on conflict (subscription, message_id) do nothing`,
    [id, entry.subscription, m.id, m.subject, m.key, JSON.stringify(m.headers), JSON.stringify(m.payload ?? null), entry.error, entry.attempts, entry.transport, entry.exhausted === true],
  );
  return rowCount === 1 ? id : null;
}
