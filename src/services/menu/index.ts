import type { ServiceModule } from '../../platform/runtime/index.ts';

/** The menu service: owns categories, items, modifier groups and their price history. Its schema `menu` and role `brigade_menu` come from the platform's first migration. */
export const menuService: ServiceModule = {
  name: 'menu',
};
