export { deriveKeys } from './deriveKeys.ts';
export { hashPassword, PASSWORD_LENGTH, passwordNeedsRehash, SCRYPT_PARAMETERS, verifyPassword } from './passwords.ts';
export { createTokenService, loadOrCreateSecret, MINT_CHAIN_MAX, ROLES, TOKEN_MAX_LIFETIME_SECONDS, TOKEN_TTL_SECONDS, TokenError, tokenSubject } from './tokens.ts';
export type { Principal, Role, TokenService } from './tokens.ts';
