-- The review of the new routes (forty-eighth session, decision 0040, "Fixed later"), findings 1 and 3.
-- version: counts the restaurant's changes, for the ETag of GET /v1/restaurants/{rid} and the If-Match
-- that PATCH /v1/restaurants/{rid} takes (a stale one is a 412, as the menu's rows). Every restaurant
-- starts at 1. integer, as the menu's row versions: a restaurant changes its row a few times in a life.
-- pickup_address_changed_by, _at: who set or cleared the pick-up address last, and when. A staff
-- member's change runs as the directory (admin kind: only admins write the directory), so neither the
-- admin audit log nor the transaction's actor named them; the row does now ('staff:<id>' or
-- 'admin:<subject>', the token's role and subject). Null until the address is first changed after
-- creation (the creation's address is in its audit entry). Adding columns with a constant default or
-- none rewrites nothing.
alter table platform.restaurants
  add column version integer not null default 1 check (version >= 1),
  add column pickup_address_changed_by text,
  add column pickup_address_changed_at timestamptz,
  add constraint pickup_address_changed_both check ((pickup_address_changed_by is null) = (pickup_address_changed_at is null));

comment on column platform.restaurants.version is
  'Counts the restaurant''s changes: the ETag of GET /v1/restaurants/{rid}, the If-Match of its PATCH';
comment on column platform.restaurants.pickup_address_changed_by is
  'Who set or cleared pickup_address last: the token''s role and subject (staff:<id>, admin:<subject>); null until then';
comment on column platform.restaurants.pickup_address_changed_at is
  'When pickup_address was last set or cleared; null until then';
