import type { Tx } from '../../../platform/db/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import { mapPlatformError } from './errors.ts';

/** A card on file as the customer reads it back: never the number, only its last four digits. */
export interface PaymentMethod {
  readonly cardLast4: string;
  readonly updatedAt: string;
}

/** Whether a card number passes the Luhn check (the check digit every card number carries). */
export function luhnValid(number: string): boolean {
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Stores (or replaces) the card on file of the customer the transaction acts as; RLS lets a customer
 * write only their own row. Answers the last four digits only.
 *
 * @throws {ValidationError} `cardNumber` is not 12–19 digits, the first not 0, with a valid check digit.
 * @throws {NotFoundError} no such customer (signed up and since erased).
 */
export async function setPaymentMethod(tx: Tx, input: { readonly customerId: string; readonly cardNumber: string }): Promise<PaymentMethod> {
  const number = input.cardNumber.replace(/[\s-]/g, '');
  // No card number starts with 0 (major industry identifier 0 is not issued to cards): an all-zero
  // number passes the check digit and was kept, for a charge that could never succeed.
  if (!/^[1-9][0-9]{11,18}$/.test(number) || !luhnValid(number)) {
    throw new ValidationError('cardNumber must be a card number: 12 to 19 digits, not starting with 0 (spaces and dashes allowed), with a valid check digit', { field: 'cardNumber' });
  }
  try {
    const { rows } = await tx.query<PaymentMethod>(
      `insert into platform.customer_payment_methods (customer_id, card_number) values ($1, $2)
       on conflict (customer_id) do update set card_number = excluded.card_number, updated_at = now()
       returning card_last4 as "cardLast4", updated_at as "updatedAt"`,
      [input.customerId, number],
    );
    const row = rows[0] as PaymentMethod;
    return { cardLast4: row.cardLast4, updatedAt: new Date(row.updatedAt).toISOString() };
  } catch (error) {
    mapPlatformError(error, { reference: 'customer' });
  }
}
