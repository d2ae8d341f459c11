import { CONTROL_OR_BIDI } from './displayName.ts';

/**
 * An e-mail address, as sign-up, sign-in and a staff invitation take it: one `@` with text on both
 * sides, no white space, no control or bidi-override character ({@link CONTROL_OR_BIDI}). Whether
 * the mailbox exists is not checked.
 */
export const EMAIL_ADDRESS = `^[^@\\s${CONTROL_OR_BIDI}]+@[^@\\s${CONTROL_OR_BIDI}]+$`;

/** What a value that fails {@link EMAIL_ADDRESS} gets told, after its field's name (the pattern is some 120 characters of escapes). */
export const EMAIL_ADDRESS_RULE = 'must be an e-mail address such as ana@example.com: one @ with text on both sides, and no space, control or bidi-override character';

/**
 * A global position as a write answers it (`position`) and `?after=` takes it: `<transactionId>.<position>`,
 * as `formatPosition` writes it (platform/projections), each part as many digits as its type holds.
 */
export const GLOBAL_POSITION = '^[0-9]{1,20}\\.[0-9]{1,19}$';

/** What a value that fails {@link GLOBAL_POSITION} gets told, after its field's name: what it is and where it comes from. */
export const GLOBAL_POSITION_RULE = 'must be the `position` a write answered, unchanged (two whole numbers joined by a dot, e.g. 7342.1051); leave it out to read without waiting';
