-- Where couriers pick a restaurant's orders up (decision 0040, "Fixed later (forty-eighth session)"):
-- a courier's task named the order and where to deliver it, never where to fetch it. One line under
-- the name rule (decision 0083), in Unicode's composed form (NFC), set when the restaurant is made
-- (POST /v1/restaurants, brigade tenants add --address) or later (PATCH /v1/restaurants/{rid}).
-- Nullable: restaurants made before this have none until it is set, and their couriers are told to
-- ask the restaurant. Adding a nullable column without a default rewrites nothing. The API takes up to
-- 500 characters as sent; NFC lengthens a few characters (U+0958 is two), at most threefold: the
-- check is the backstop, not the rule, so that no text the API took fails here as a 500.
alter table platform.restaurants
  add column pickup_address text check (length(pickup_address) between 1 and 1500);

comment on column platform.restaurants.pickup_address is
  'Where couriers pick orders up: one line, NFC; null until set (restaurants made before platform migration 0036)';
