-- A dedicated database serves one restaurant (decision 0008): the workers of a database in the catalog
-- act on every tenant row in it, so two restaurants placed in one database, or a copy a failed move
-- left beside a placed restaurant, would be served as if they lived there. brigade tenants move checks
-- the target's content before it copies; this index also refuses two moves to one empty database that
-- ran at the same time (the second one's placement fails, and its move with it). Every tenant
-- transaction reads this table in its fence: wait at most 5 s for the lock (then fail, to be run again).
set local lock_timeout = '5s';
create unique index if not exists tenant_placements_one_per_database on platform.tenant_placements (database_url) where database_url is not null;
