import { BrigadeError } from '../errors/index.ts';

/**
 * 500: an outbox row whose subject is not its service's (`<service>.…`). A service publishes only its
 * own subjects (docs/decisions/0056, "Later"): the PostgreSQL bus refuses the service role's insert,
 * and the relay, on every transport, stops at the row rather than publish it as the platform. Until the
 * row is gone, nothing claimed with it or after it goes out.
 */
export class OutboxSubjectRefusedError extends BrigadeError {
  constructor(row: { readonly outbox: string; readonly service: string; readonly id: string; readonly messageId: string; readonly subject: string }, options: { cause?: unknown } = {}) {
    super(
      'OUTBOX_SUBJECT_NOT_OWN',
      500,
      `Outbox ${row.outbox} row ${row.id} (message ${row.messageId}) has subject ${row.subject}, but service ${row.service} publishes only subjects ` +
        `that start with "${row.service}.": its relay stops there. Correct the code that wrote it, then delete the row as the database owner ` +
        `(delete from ${row.outbox}.outbox where id = ${row.id}); the relay goes on with the next one.`,
      { details: { ...row }, cause: options.cause },
    );
  }
}
