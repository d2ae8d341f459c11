import { Type } from 'typebox';
import { Value } from 'typebox/value';

/**
 * A new restaurant's fields, as `POST /v1/restaurants` takes them (its body schema) and as
 * `brigade tenants add` checks them before it opens a database: one definition of the limits.
 */
/**
 * A name as people see it in lists and tables: not blank, no space at either end, no control
 * character (a newline in a name broke `brigade tenants list`, and "A " passed the duplicate check of "A").
 */
export const DISPLAY_NAME = '^[^\\x00-\\x1f\\x7f\\s](?:[^\\x00-\\x1f\\x7f]*[^\\x00-\\x1f\\x7f\\s])?$';

/** A person's, a restaurant's or a city's name: 1 to `maxLength` characters of {@link DISPLAY_NAME}. */
export const NameText = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: DISPLAY_NAME, description: 'no space at either end, no control character' });

export const NewRestaurant = Type.Object(
  {
    name: NameText(200),
    city: NameText(100),
    /** ISO 4217, three capital letters; the city's currency when absent. */
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
  },
  { additionalProperties: false },
);

/** What is wrong with a new restaurant's fields: one `{ field, message }` per broken rule, or none. */
export function newRestaurantProblems(input: unknown): Array<{ readonly field: string; readonly message: string }> {
  return Value.Errors(NewRestaurant, input).map((e) => ({ field: e.instancePath.replace(/^\//, ''), message: e.message }));
}
