import type { Tx } from '../../../platform/db/index.ts';
import { lockMenu } from './lockMenu.ts';

/**
 * Waits, at most `timeoutMs` (`lock_timeout`, transaction-local), until restaurant `tenantId`'s menu
 * is free to write, by taking its lock ({@link lockMenu}) the way every menu write does. Run in a unit
 * of work of its own, which writes nothing and ends at once.
 *
 * What it is for: after a menu write whose COMMIT lost its connection, that write's transaction may
 * still be committing in PostgreSQL (a deferred trigger, the WAL flush, a synchronous standby), and a
 * cache eviction made before it ends lets a read load the old menu and keep it until the TTL. Every
 * menu write holds this lock from its first change to its end, and PostgreSQL releases a
 * transaction's locks only after its commit is visible to every snapshot taken later: once this
 * returns, that transaction has committed or never will, and an eviction made after it is final.
 *
 * @throws the driver's `lock_not_available` (SQLSTATE 55P03, `isLockNotAvailable`) when the lock was
 *   not free within `timeoutMs`.
 */
export async function waitForMenuTurn(tx: Tx, tenantId: string, timeoutMs: number): Promise<void> {
  await Promise.all([tx.query(`select set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.round(timeoutMs))}ms`]), lockMenu(tx, tenantId)]);
}
