export { deriveKeys } from './deriveKeys.ts';
export { hashPassword, PASSWORD_LENGTH, passwordNeedsRehash, SCRYPT_PARAMETERS, verifyPassword } from './passwords.ts';
export { createTokenService, FIRST_PASSWORD_PROOFS, FIRST_PASSWORD_SIGNUP_SECONDS, loadOrCreateSecret, MINT_CHAIN_MAX, ROLES, TOKEN_MAX_LIFETIME_SECONDS, TOKEN_TTL_SECONDS, TokenError, tokenSubject } from './tokens.ts';
export type { FirstPasswordProof, Principal, Role, TokenService } from './tokens.ts';
