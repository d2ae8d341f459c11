-- The request-time token check reads customers only as `token-check` (docs/decisions/0007). 0033 kept
-- the actor of 0028, `customer-token-check`, allowed beside it for one release, while processes that
-- checked customer tokens alone still ran beside those that check every token (a rolling deploy).
-- Every process of the release that brought 0033 checks as `token-check`, so the old name goes: a
-- policy names only the actors that still read through it.
alter policy token_check_read on platform.customers
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'token-check');
