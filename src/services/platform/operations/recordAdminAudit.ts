import type { Tx } from '../../../platform/db/index.ts';

/** Appends one admin action to the audit log (its own table; the app role cannot update or delete it). */
export async function recordAdminAudit(
  tx: Tx,
  entry: { actorId: string; method: string; route: string; target: Readonly<Record<string, unknown>>; status: number; requestId: string },
): Promise<void> {
  await tx.query(`insert into platform.admin_audit (actor_id, method, route, target, status, request_id) values ($1, $2, $3, $4, $5, $6)`, [
    entry.actorId,
    entry.method,
    entry.route,
    JSON.stringify(entry.target),
    entry.status,
    entry.requestId,
  ]);
}
