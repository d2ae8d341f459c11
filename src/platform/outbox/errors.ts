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

/**
 * 500: the broker (or the transport, before sending) refused an outbox row's message itself: a header
 * name or value it cannot carry, say (decision 0078, "Fixed later"). The relay keeps every aggregate's
 * order, so it stops at the row and retries it; nothing after it in the outbox's order goes out until
 * the row is gone. `details` name the row; the transport's error is the `cause`. An outage of the broker
 * is not this error: the relay reports the transport's error as it is.
 */
export class OutboxMessageRefusedError extends BrigadeError {
  constructor(
    row: { readonly outbox: string; readonly id: string; readonly messageId: string; readonly subject: string },
    options: { cause: unknown; sentWith?: number },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    const which =
      options.sentWith === undefined
        ? `Outbox ${row.outbox} row ${row.id} (message ${row.messageId}, subject ${row.subject}) was refused: ${reason}.`
        : `Outbox ${row.outbox}: a publish of ${options.sentWith} rows, the first row ${row.id} (message ${row.messageId}, subject ${row.subject}), was refused ` +
          `(the transport did not say which row): ${reason}.`;
    super(
      'OUTBOX_MESSAGE_REFUSED',
      500,
      `${which} Its relay stops there and retries: nothing after it in the outbox's order goes out until the row is gone. Messages are checked when ` +
        `they are written, so the row was written before that check or by hand: correct it, or delete it as the database owner ` +
        `(delete from ${row.outbox}.outbox where id = ${row.id}); the relay goes on with the next one.`,
      { details: { ...row }, cause: options.cause },
    );
  }
}
