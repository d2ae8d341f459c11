import type { Tx } from '../../../platform/db/index.ts';
import { lockMenu } from './lockMenu.ts';

/**
 * Gives restaurant `tenantId`'s menu a new version (`menu.menu_versions`, the number in the menu's
 * ETag `"menu-<version>"`) without changing a row of it: what `POST …/menu/refresh` does after an edit
 * made outside the API. Such an edit may have bypassed the history trigger that bumps the version (a
 * data-only restore with `--disable-triggers`, `session_replication_role = replica`, a disabled
 * trigger), and the menu reloaded under the old ETag would then answer 304 to clients holding the old
 * content. Takes the menu's lock first ({@link lockMenu}), as every menu write does. Returns the new
 * version.
 */
export async function bumpMenuVersion(tx: Tx, tenantId: string): Promise<number> {
  await lockMenu(tx, tenantId);
  const { rows } = await tx.query<{ version: string }>(
    `update menu.menu_versions set version = version + 1, changed_at = now() where tenant_id = $1 returning version`,
    [tenantId],
  );
  return Number(rows[0]!.version);
}
