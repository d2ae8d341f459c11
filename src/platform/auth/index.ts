export { createTokenService, loadOrCreateSecret, ROLES, TokenError } from './tokens.ts';
export type { Principal, Role, TokenService } from './tokens.ts';
