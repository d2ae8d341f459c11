-- Admin subjects are compared without regard to case from now on (decision 0007, forty-ninth session,
-- the auth review's finding 3): `tokenSubject` folds an admin's name to lower case, so `sign`, `verify`
-- (the subject and each minter of `act`) and the revocation agree, and revoking `night-ops` reaches a
-- token that says `Night-Ops`. A revocation recorded before under a mixed-case name would otherwise
-- match nothing any more, and its tokens, folded when verified, would be valid again: fold those rows
-- too, keeping the later time where two spellings of one name were revoked (and that row's revoker and
-- reason). Other roles' subjects are UUIDs, lower-cased when written since decision 0083.
-- The table forces row-level security on its owner too, and the migrating role need not be a
-- superuser: lift that for this transaction's statements (the ALTER's lock holds the table meanwhile;
-- it has a row per revoked subject) and put it back.
alter table platform.token_revocations no force row level security;
with mixed as (
  delete from platform.token_revocations
   where role = 'admin' and subject <> lower(subject)
  returning subject, revoked_before, revoked_by, reason
), latest as (
  select distinct on (lower(subject)) lower(subject) as subject, revoked_before, revoked_by, reason
    from mixed
   order by lower(subject), revoked_before desc
)
insert into platform.token_revocations as r (role, subject, revoked_before, revoked_by, reason)
select 'admin', subject, revoked_before, revoked_by, reason from latest
on conflict (role, subject) do update
  set revoked_before = greatest(r.revoked_before, excluded.revoked_before),
      revoked_by = case when excluded.revoked_before > r.revoked_before then excluded.revoked_by else r.revoked_by end,
      reason = case when excluded.revoked_before > r.revoked_before then excluded.reason else r.reason end;

alter table platform.token_revocations force row level security;
