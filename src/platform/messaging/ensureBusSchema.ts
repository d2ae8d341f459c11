import type pg from 'pg';
import { runExclusiveDdl } from '../db/index.ts';
import { busDeliveriesLeanSql } from './busDeliveriesLeanSql.ts';
import { busFailuresLastErrorSql } from './busFailuresLastErrorSql.ts';
import { busDeadLettersUniqueSql } from './busDeadLettersUniqueSql.ts';
import { busFailuresAttemptsSql } from './busFailuresAttemptsSql.ts';
import { busFailuresLastFailedAtSql } from './busFailuresLastFailedAtSql.ts';
import { busRetentionIndexesSql } from './busRetentionIndexesSql.ts';
import { busSchemaSql } from './busSchemaSql.ts';
import { claimCheckRefsReleasedSql } from './claimCheck/claimCheckRefsReleasedSql.ts';

/** Arbitrary but fixed: the advisory lock that serialises concurrent {@link ensureBusSchema} calls. */
const BUS_SCHEMA_LOCK = 0x6272_6275; // 'brbu'

/**
 * Every bus migration, in order: platform migrations 0004, 0011, 0014, 0021, 0023, 0025, 0029 and 0030 are exactly these
 * texts. Each is idempotent; the third runs outside a transaction (`-- brigade:no-transaction`).
 */
export function busMigrationsSql(): string[] {
  return [busSchemaSql(), busDeliveriesLeanSql(), busRetentionIndexesSql(), claimCheckRefsReleasedSql(), busFailuresLastErrorSql(), busFailuresLastFailedAtSql(), busFailuresAttemptsSql(), busDeadLettersUniqueSql()];
}

/**
 * Creates the bus schema if it is missing, and brings an older one up to date. Safe when many processes
 * start at once (see {@link runExclusiveDdl}): everything runs in one transaction, so the retention
 * indexes are built in their in-transaction form (see {@link busRetentionIndexesSql}).
 *
 * The first migration runs only when there is no bus yet: it only creates what is missing, and on a bus
 * that exists the only thing missing is what a later migration dropped on purpose (0011's index on
 * deliveries (message_id), which every second call used to build again). A bus on which an earlier
 * version of this function built that index again loses it here: on the lean deliveries (0011 applied)
 * it is a second index on message_id that every delivery insert paid for.
 */
export async function ensureBusSchema(pool: pg.Pool): Promise<void> {
  const create = `do $ensure$
begin
  if to_regclass('brigade_bus.deliveries') is null then
    execute $schema$${busSchemaSql()}$schema$;
  end if;
end
$ensure$;`;
  const repair = `do $repair$
begin
  if to_regclass('brigade_bus.deliveries_message_subscription') is not null and to_regclass('brigade_bus.deliveries_message_idx') is not null then
    drop index brigade_bus.deliveries_message_idx;
  end if;
end
$repair$;`;
  await runExclusiveDdl(pool, BUS_SCHEMA_LOCK, [create, busDeliveriesLeanSql(), repair, busRetentionIndexesSql({ concurrently: false }), claimCheckRefsReleasedSql(), busFailuresLastErrorSql(), busFailuresLastFailedAtSql(), busFailuresAttemptsSql(), busDeadLettersUniqueSql()].join('\n'));
}
