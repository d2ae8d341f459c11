import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { NameText } from '../../api/index.ts';

/**
 * A restaurant's pick-up address, where couriers fetch its orders: one line under the name rule
 * (decision 0083), as a customer's address is, kept in Unicode's composed form ({@link pickupAddressOf}).
 */
export const PickupAddress = NameText(500);

/**
 * A pick-up address as the directory keeps it: in Unicode's composed form (NFC), as a city's name
 * (`cityName`), so that the same text typed on two keyboards is stored and shown alike.
 */
export function pickupAddressOf(address: string): string {
  return address.normalize('NFC');
}

/**
 * A new restaurant's fields, as `POST /v1/restaurants` takes them (its body schema) and as
 * `brigade tenants add` checks them before it opens a database: one definition of the limits.
 */
export const NewRestaurant = Type.Object(
  {
    name: NameText(200),
    city: NameText(100),
    /** ISO 4217, three capital letters; the city's currency when absent. */
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    /** Where couriers pick its orders up; none (null) until set, then couriers are told to ask the restaurant. */
    pickupAddress: Type.Optional(PickupAddress),
  },
  { additionalProperties: false },
);

/** What is wrong with a new restaurant's fields: one `{ field, message }` per broken rule, or none. */
export function newRestaurantProblems(input: unknown): Array<{ readonly field: string; readonly message: string }> {
  return Value.Errors(NewRestaurant, input).map((e) => ({ field: e.instancePath.replace(/^\//, ''), message: e.message }));
}

/**
 * What is wrong with the city a list of restaurants is asked for (`brigade tenants list --city`): a
 * new restaurant's city rule, which `GET /v1/restaurants?city=` applies too. One message per broken rule, or none.
 */
export function cityProblems(city: string): string[] {
  return Value.Errors(NewRestaurant.properties.city, city).map((e) => e.message);
}
