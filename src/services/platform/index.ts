import { fileURLToPath } from 'node:url';
import type { ServiceDeps, ServiceModule } from '../../platform/runtime/index.ts';
import type { PlatformPorts } from './ports.ts';
import { platformRoutes } from './routes.ts';
import { signInAttemptsRetention } from './signInAttemptsRetention.ts';
import { tokenRevocationRetention } from './tokenRevocationRetention.ts';

export type { CourierDispatch, OpenOrders, OrderPauseState, OrderTaking, PlatformPorts } from './ports.ts';

export { recordAdminAudit } from './operations/recordAdminAudit.ts';
export { mintToken, type TokenRequest } from './operations/mintToken.ts';
export { CourierStillOnDispatchError, CustomerHasOpenOrdersError, MintChainTooLongError, TokenRestaurantUnknownError } from './operations/errors.ts';
export { createRestaurant } from './operations/createRestaurant.ts';
export { listRestaurants, type RestaurantPosition } from './operations/listRestaurants.ts';
export { cityProblems, NewRestaurant, newRestaurantProblems } from './newRestaurant.ts';
export { courierDirectory, restaurantDirectory } from './directory.ts';
export { cardsOnFile } from './cardsOnFile.ts';
export { customerKeyId, customerKeys } from './customerKeys.ts';
export { refuseRevokedTokens } from './revokedTokens.ts';
export { revokeTokens, type RevokedTokens } from './operations/revokeTokens.ts';
export { newTokenRevocationProblems } from './newTokenRevocation.ts';

/**
 * The platform service: owns cities, restaurants (the tenants), staff, couriers and customers, the
 * tenant placement catalog and the admin audit log; its first migration creates every service's
 * schema and role. Its workers `sign-in-attempts-retention` and `token-revocation-retention` delete
 * expired sign-in attempts and the revocations of tokens that have all expired. Its ports
 * (the ordering service's open orders, asked before an erasure; the delivery service's dispatch, which
 * takes a courier whose tokens are revoked off it; the menu service's pauses of new orders, which its
 * directory shows) are wired by the composition root.
 *
 * @example
 * createPlatformService((deps) => ({
 *   orders: openOrders(deps),
 *   dispatch: courierDispatch({ unitOfWork: deps.unitOfWork, couriers: courierDirectory(deps.unitOfWork), orders: orderCommands(deps, 'delivery-dispatch') }),
 *   orderTaking: orderTaking(deps, restaurantDirectory(deps.unitOfWork)),
 * }))
 */
export function createPlatformService(ports: (deps: ServiceDeps) => PlatformPorts): ServiceModule {
  return {
    name: 'platform',
    migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
    routes: async (app, options) => platformRoutes(app, { ...options, ports: ports(options.deps) }),
    workers: [signInAttemptsRetention, tokenRevocationRetention],
  };
}
