import type { Tx } from '../../../platform/db/index.ts';
import { UnprocessableError } from '../../../platform/errors/index.ts';
import { MAX_ORDER_TOTAL } from '../../../platform/money/index.ts';

/**
 * The cheapest order of one item: its price, plus, in each of its groups, the `min_choices` cheapest
 * modifiers (what a required group makes every order take) and every further negative one up to
 * `max_choices` (what a customer may add). Sorted by delta, the first `min_choices` and then the
 * negative ones among the first `max_choices`: no other selection a group allows costs less.
 * Deleted groups and modifiers do not count; the item's category does not matter (a restore brings
 * the item back as it is).
 */
const CHEAPEST = `
with g as (
  select id, name, min_choices, max_choices from menu.modifier_groups where tenant_id = $1 and item_id = $2 and deleted_at is null
), ranked as (
  select g.name as group_name, g.min_choices, g.max_choices, m.name, m.price_delta,
         row_number() over (partition by g.id order by m.price_delta, m.position, m.id) as n
    from g join menu.modifiers m on m.tenant_id = $1 and m.group_id = g.id and m.deleted_at is null
), picked as (
  select * from ranked where n <= min_choices or (n <= max_choices and price_delta < 0)
)
select i.name, i.price, i.price + coalesce((select sum(price_delta) from picked), 0) as cheapest,
       coalesce((select string_agg(group_name || ': ' || name || ' ' || price_delta, ', ' order by group_name, n) from picked), '') as picks
  from menu.items i where i.tenant_id = $1 and i.id = $2`;

/**
 * Refuses a menu write after which an item's cheapest order is one ordering refuses (decision 0085):
 * below 0 (`ORDER_LINE_PRICE_INVALID`) or above {@link MAX_ORDER_TOTAL} (`ORDER_TOTAL_TOO_HIGH`, whose
 * "split it into smaller orders" a single line of quantity 1 cannot follow). Every order of such an
 * item would be placed and then refused, which the customer cannot fix. Called after the write, in
 * its transaction, so the refusal rolls it back.
 *
 * The item's row is locked first (`FOR NO KEY UPDATE`; the caller may hold it already), and the sum is
 * read by the next statement: under READ COMMITTED that one sees every write to the item's groups that
 * committed while this waited. Two group writes on one item, each fine alone, take turns and the second
 * sees the first.
 *
 * @param field the request field the write changed (`price`, `modifiers`, …), when one did.
 * @throws {UnprocessableError} `MENU_PRICE_BELOW_ZERO` (422) with `field`, `itemId` and `cheapest`;
 *   `MENU_PRICE_ABOVE_ORDER_LIMIT` (422) with `field`, `itemId`, `cheapest` and `maxTotal`.
 */
export async function requireCheapestOrderable(tx: Tx, tenantId: string, itemId: string, field?: string): Promise<void> {
  await tx.query(`select 1 from menu.items where tenant_id = $1 and id = $2 for no key update`, [tenantId, itemId]);
  const { rows } = await tx.query<{ name: string; price: number; cheapest: string; picks: string }>(CHEAPEST, [tenantId, itemId]);
  const row = rows[0];
  if (row === undefined) return;
  const cheapest = Number(row.cheapest);
  const at = field === undefined ? {} : { field };
  if (cheapest < 0) {
    throw new UnprocessableError(
      'MENU_PRICE_BELOW_ZERO',
      `The cheapest order of ${row.name} would cost ${cheapest} (price ${row.price}; ${row.picks}): keep the price at or above what its required and negative modifiers can take off — raise the price, make the negative deltas smaller, or let fewer of them be chosen together (maxChoices)`,
      { ...at, itemId, cheapest },
    );
  }
  if (cheapest > MAX_ORDER_TOTAL) {
    throw new UnprocessableError(
      'MENU_PRICE_ABOVE_ORDER_LIMIT',
      `The cheapest order of ${row.name} would cost ${cheapest} (price ${row.price}${row.picks === '' ? '' : `; ${row.picks}`}), above the ${MAX_ORDER_TOTAL} one order may cost, so no one could order it: keep the price plus what its required modifiers add at or below ${MAX_ORDER_TOTAL} — lower the price, make the required modifiers cheaper, or require fewer of them (minChoices)`,
      { ...at, itemId, cheapest, maxTotal: MAX_ORDER_TOTAL },
    );
  }
}
