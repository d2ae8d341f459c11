import type pg from 'pg';
import { runExclusiveDdl } from '../../../platform/db/index.ts';

/** The provider's schema: it is an external party, not a Brigade service, so it is not in Brigade's migration sets. */
export const PROVIDER_SCHEMA = 'payment_provider';

/** Arbitrary but fixed: the advisory lock that serialises concurrent {@link ensureProviderSchema} calls. */
const PROVIDER_SCHEMA_LOCK = 0x7061_7970; // 'payp'

// Every statement is idempotent (`if not exists`), so each start may run them all; the advisory lock
// keeps two providers starting at once from racing on the catalog (`create schema if not exists` is not
// atomic against a concurrent creator and fails with a unique violation).
const DDL = `
create schema if not exists payment_provider;

-- One row per Idempotency-Key: the request's hash and, once the effect committed, the answer to replay.
-- Inserted first in the request's transaction, so a concurrent duplicate waits on the unique index
-- until the first commits (then replays) or rolls back (then runs).
create table if not exists payment_provider.idempotency_keys (
  key          text        primary key check (length(key) between 1 and 255),
  request_hash text        not null,
  status       integer,
  body         jsonb,
  created_at   timestamptz not null default now()
);

create table if not exists payment_provider.charges (
  id              uuid        primary key,
  reference       text        not null,
  card_last4      text        not null,
  amount          bigint      not null check (amount > 0),
  currency        text        not null,
  status          text        not null check (status in ('authorized', 'captured', 'declined', 'voided')),
  refunded_amount bigint      not null default 0 check (refunded_amount between 0 and amount),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);

create table if not exists payment_provider.refunds (
  id         uuid        primary key,
  charge_id  uuid        not null references payment_provider.charges (id),
  amount     bigint      not null check (amount > 0),
  currency   text        not null,
  created_at timestamptz not null default now()
);

create table if not exists payment_provider.payouts (
  id          uuid        primary key,
  destination text        not null,
  amount      bigint      not null check (amount > 0),
  currency    text        not null,
  created_at  timestamptz not null default now()
);

-- The ledger: one row per movement of money, written in the transaction that moves it. Tests count
-- these rows to prove that a retried request moved money exactly once.
create table if not exists payment_provider.ledger_entries (
  id              bigint      generated always as identity primary key,
  movement        text        not null check (movement in ('authorization', 'capture', 'void', 'refund', 'payout')),
  object_id       uuid        not null,
  charge_id       uuid,
  reference       text,
  amount          bigint      not null check (amount > 0),
  currency        text        not null,
  idempotency_key text        not null,
  created_at      timestamptz not null default now()
);
-- A void (an authorization released): tables created before it existed get the wider checks. Only
-- when the check lacks it, so a start takes no lock on tables already up to date.
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'charges_status_check' and conrelid = 'payment_provider.charges'::regclass
                    and pg_get_constraintdef(oid) like '%voided%') then
    alter table payment_provider.charges drop constraint if exists charges_status_check;
    alter table payment_provider.charges add constraint charges_status_check check (status in ('authorized', 'captured', 'declined', 'voided'));
  end if;
  if not exists (select 1 from pg_constraint where conname = 'ledger_entries_movement_check' and conrelid = 'payment_provider.ledger_entries'::regclass
                    and pg_get_constraintdef(oid) like '%''void''%') then
    alter table payment_provider.ledger_entries drop constraint if exists ledger_entries_movement_check;
    alter table payment_provider.ledger_entries add constraint ledger_entries_movement_check check (movement in ('authorization', 'capture', 'void', 'refund', 'payout'));
  end if;
end $$;
create index if not exists ledger_entries_charge on payment_provider.ledger_entries (charge_id);
create index if not exists ledger_entries_reference on payment_provider.ledger_entries (reference);
-- A money step's reconciliation looks its own key up (findLedgerEntry): before, it read every entry of
-- the reference, a restaurant's or courier's whole payout history for a payout.
create index if not exists ledger_entries_idempotency_key on payment_provider.ledger_entries (idempotency_key);
`;

/**
 * Creates the provider's schema and tables if they do not exist. Run at every provider start; safe
 * to run concurrently. The pool's user needs CREATE on the database (the provider connects as a
 * privileged user of its own, like any third party would).
 */
export async function ensureProviderSchema(pool: pg.Pool): Promise<void> {
  await runExclusiveDdl(pool, PROVIDER_SCHEMA_LOCK, DDL);
}
