import { fileURLToPath } from 'node:url';
import type { ServiceModule } from '../../platform/runtime/index.ts';

/** The payments service: owns payment saga state, charges, refunds and payouts. Its schema `payments` and role `brigade_payments` come from the platform's first migration. */
export const paymentsService: ServiceModule = {
  name: 'payments',
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
};
