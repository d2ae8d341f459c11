import pg from 'pg';
import { CONTEXT_SETTINGS, serviceRole, type Actor, type Tx } from '../db/index.ts';

/** `set_config` of the planner setting a rebuild's reads of the log need (see {@link enterServiceRole}). */
export const SORTS_OFF = `set_config('enable_sort', 'off', true)`;

/**
 * Inside a transaction on a connection the caller holds: takes the service's role and sets what
 * row-level security reads (no tenant, the actor), as `unitOfWork` does at BEGIN, and turns sorts off
 * for the rest of the transaction.
 *
 * Why sorts off: RLS (tenant OR actor kind, unknown at plan time) makes the planner expect ~5% of the
 * rows, so for a page of the log that is large against the table it chose a parallel seq scan plus an
 * external sort of every later event (EXPLAIN ANALYZE: 640 ms for a page of 20,000 of 240,000) over the
 * ordered events_global_order index scan. readAll in pages of 20,000: 43,263 events/s and 2.53 s of
 * server CPU as planned, 95,642 events/s and 0.68 s with sorts off (bench/projections, same run).
 */
export async function enterServiceRole(tx: Tx, context: { readonly service: string; readonly actor: Actor }): Promise<void> {
  await tx.query(`set local role ${pg.escapeIdentifier(serviceRole(context.service))}`);
  await tx.query(
    `select set_config('${CONTEXT_SETTINGS.tenantId}', '', true), set_config('${CONTEXT_SETTINGS.actorKind}', $1, true),
            set_config('${CONTEXT_SETTINGS.actorId}', $2, true), ${SORTS_OFF}`,
    [context.actor.kind, context.actor.id],
  );
}
