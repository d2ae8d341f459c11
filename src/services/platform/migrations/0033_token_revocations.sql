-- Tokens of a role and subject can be revoked before they expire (decision 0007, "Fixed later
-- (forty-fourth session): staff, courier and admin tokens can be revoked"): a staff member let go, a
-- courier removed, an admin token that leaked, a customer's lost phone. Before, only a rotated
-- BRIGADE_SECRET ended them, and with them every token of every user.
--
-- One row per role and subject: every token of them issued at or before `revoked_before` is refused
-- with 401 TOKEN_REVOKED. It is a whole second (a token's `iat` is one), and a token issued within
-- that second is refused too: it cannot be told from one minted just before the revocation. A
-- revocation repeated later moves the time forward, never back. Not tied to the staff, couriers or
-- customers tables: a token may name a subject that is none of theirs (brigade token, POST /v1/tokens).
create table platform.token_revocations (
  role           text        not null check (role in ('admin', 'staff', 'courier', 'customer')),
  subject        text        not null check (subject ~ '^[A-Za-z0-9_.:-]{1,100}$'),
  revoked_before timestamptz not null,
  revoked_by     text        not null,
  reason         text        check (char_length(reason) between 1 and 500),
  primary key (role, subject)
);
-- The list, newest first.
create index token_revocations_by_time on platform.token_revocations (revoked_before);

alter table platform.token_revocations enable row level security, force row level security;

-- Admins revoke (insert, and move a revocation forward) and list them; the check on every request reads
-- them as the system actor `token-check`, which may only select. Nobody may delete one: that would undo
-- a revocation, a leaked token working again.
create policy admin_all on platform.token_revocations for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');
create policy token_check_read on platform.token_revocations for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'token-check');

revoke all on platform.token_revocations from public;
revoke delete on platform.token_revocations from brigade_platform;

-- The check's actor was `customer-token-check` when it checked customer tokens alone (0028); it is
-- `token-check` now that it checks every token. The old name stays allowed while processes of the
-- previous release run beside this one (a rolling deploy): without it their check would read no
-- customer row and let a customer token of an older credentials version through. A later migration
-- drops it.
alter policy token_check_read on platform.customers
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) in ('token-check', 'customer-token-check'));
