import { escapeIdentifier } from 'pg';
import { validateServiceSchema } from '../validate.ts';

/**
 * The DDL of a consuming service's inbox, `<schema>.inbox`, for its migrations. One row per
 * (subscription, message id) handled; the primary key is the claim. It is not tenant-scoped on purpose:
 * a claim is about a message, and the consumer must see a claim whatever tenant it belongs to (a
 * tenant-filtered claim table would let a second delivery in). The message's tenant is kept for inspection
 * as `message_tenant` (not `tenant_id`: this table is not tenant data, see the tenancy catalog rules).
 * The service's role gets SELECT and INSERT: a claim is never updated, and deleted only by the
 * retention once it is past a day (inboxRetentionSql, a later migration: decision 0092).
 */
export function inboxSchemaSql(schema: string): string {
  validateServiceSchema(schema);
  const s = escapeIdentifier(schema);
  const role = escapeIdentifier(`brigade_${schema}`);
  return `
create table if not exists ${s}.inbox (
  subscription text not null,
  message_id   uuid not null,
  message_tenant uuid,
  subject      text not null,
  handled_at   timestamptz not null default now(),
  primary key (subscription, message_id)
);
revoke all on ${s}.inbox from ${role};
grant select, insert on ${s}.inbox to ${role};
`;
}
