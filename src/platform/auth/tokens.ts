import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { BrigadeError, UnauthorizedError, ValidationError } from '../errors/index.ts';
import { isUuid } from '../ids/index.ts';

/** The roles a token can carry. */
export const ROLES = ['admin', 'staff', 'courier', 'customer'] as const;
export type Role = (typeof ROLES)[number];

/** Who a verified token says the caller is. Tenant and actor come from here and nowhere else. */
export interface Principal {
  readonly role: Role;
  /** The actor's id (staff, courier or customer id; an admin's name or id). */
  readonly subject: string;
  /** The restaurant (tenant) of a staff member; `null` for the other roles. */
  readonly restaurantId: string | null;
  /**
   * Who minted the token through the API (an admin's subject, the token's RFC 8693 `act` claim), so that
   * what is done with a token minted under another name traces back to its minter: `mintChain[0]`.
   * Absent for a token minted otherwise (sign-up, `brigade token`, the development login).
   */
  readonly mintedBy?: string;
  /**
   * Every admin through whom the token was minted, its minter first, then whoever minted the minter's
   * token, and so on (the `act` claim nested as RFC 8693 nests it; at most {@link MINT_CHAIN_MAX}). A
   * token is refused once any of them was revoked at or after its issue (decision 0007). A token minted
   * before the chain was carried has its minter alone. Absent when `mintedBy` is.
   */
  readonly mintChain?: readonly string[];
  /**
   * The customer's credentials version when the token was signed (its `cv` claim; 0 without one, and
   * for every other role): a customer token older than the customer's current version (a password
   * changed, set or removed since) is refused (decision 0007, "a credential change revokes earlier
   * customer tokens").
   */
  readonly credentialsVersion: number;
  /**
   * When the token it was read from expires, in milliseconds since the epoch: what a long-lived answer
   * (a stream) must not outlive. Absent for a principal not read from a token.
   */
  readonly expiresAt?: number;
  /**
   * When the token it was read from was issued (its `iat` claim, whole seconds), in milliseconds since
   * the epoch; a token without one is refused by `verify`. A token of a role and subject revoked at or
   * after it is refused (decision 0007, "staff, courier and admin tokens can be revoked"). Absent for a
   * principal not read from a token.
   */
  readonly issuedAt?: number;
  /**
   * How a customer token came to be, when that lets it set the customer's first password (its `amr`
   * claim, one value): `signup`, the token sign-up answered (for {@link FIRST_PASSWORD_SIGNUP_SECONDS}
   * from its issue), or `reset`, one an admin minted for a password reset (`POST /v1/tokens` with
   * `reset: true`, `brigade token --reset`). Absent for every other token (decision 0007, "the first
   * password needs something the copy lacks").
   */
  readonly amr?: FirstPasswordProof;
}

/** What a customer token's `amr` claim may say: how it lets its holder set the first password. */
export const FIRST_PASSWORD_PROOFS = ['signup', 'reset'] as const;
export type FirstPasswordProof = (typeof FIRST_PASSWORD_PROOFS)[number];

/**
 * How long after its issue the token sign-up answered may set the customer's first password with no
 * `currentPassword`: 10 minutes. A copy lifted later (a log, a shared device) cannot (decision 0007).
 */
export const FIRST_PASSWORD_SIGNUP_SECONDS = 10 * 60;

/**
 * How long a token asked for may live, in seconds (`POST /v1/tokens` `ttlSeconds`, `brigade token
 * --ttl`): from a minute to 30 days. `sign` itself takes any lifetime (tests sign expired tokens), but
 * `verify` refuses a token that lives longer than {@link TOKEN_MAX_LIFETIME_SECONDS}.
 */
export const TOKEN_TTL_SECONDS = Object.freeze({ min: 60, max: 30 * 24 * 3600 });

/**
 * The longest a token that `verify` accepts lives: from its `iat` to its `exp`, at most
 * {@link TOKEN_TTL_SECONDS}' max and one second (the second may tick between the two stamps of `sign`).
 * A token issued at or before a revocation's second therefore expires at most this long after it, which
 * is what a revocation is kept for (decision 0007, "token revocations are pruned"): a token that lives
 * longer (signed by `brigade token --ttl` before it was bounded) or that carries no `iat` is refused, as
 * it could outlive its revocation.
 */
export const TOKEN_MAX_LIFETIME_SECONDS = TOKEN_TTL_SECONDS.max + 1;

/**
 * The most admins a token's chain of minters (`act`, nested) names: a token minted through this many
 * cannot mint (`POST /v1/tokens` answers 403 `MINT_CHAIN_TOO_LONG`), and one whose `act` nests deeper
 * is invalid. It bounds the claim's size and the request-time check's look-up.
 */
export const MINT_CHAIN_MAX = 8;

const ISSUER = 'brigade';
const SUBJECT = /^[A-Za-z0-9_.:-]{1,100}$/;
/** The largest credentials version: PostgreSQL's `integer`, the column it is read from. */
const MAX_CREDENTIALS_VERSION = 2 ** 31 - 1;

/** Token signing and verification with one HS256 secret. */
export interface TokenService {
  /**
   * Signs a token for `principal`, valid for `ttlSeconds` (default 12 h); `mintChain` (its minter first,
   * at most {@link MINT_CHAIN_MAX}) goes in its `act` claim, nested (`{ sub, act: { sub, … } }`), a
   * customer's `credentialsVersion` (a whole number from 0; absent: 0) in its `cv` claim, and a
   * customer's `amr` (how it may set the first password) in its `amr` claim, as a one-value array.
   */
  sign(
    principal: { role: Role; subject?: string; restaurantId?: string | null; mintChain?: readonly string[]; credentialsVersion?: number; amr?: FirstPasswordProof },
    ttlSeconds?: number,
  ): Promise<string>;
  /**
   * Verifies signature, issuer, expiry and claims (`iat` is required, and a lifetime of at most
   * {@link TOKEN_MAX_LIFETIME_SECONDS}); throws 401 errors with stable codes.
   */
  verify(token: string): Promise<Principal>;
}

/**
 * Creates the token service (jose, HS256). A staff token must name its restaurant; other roles must
 * not. Subjects default to a new UUID.
 *
 * @example
 * const tokens = createTokenService(secret);
 * const token = await tokens.sign({ role: 'staff', restaurantId, subject: staffId });
 * const principal = await tokens.verify(token);
 */
export function createTokenService(secret: string): TokenService {
  const key = new TextEncoder().encode(secret);
  return {
    async sign(input, ttlSeconds = 12 * 3600) {
      const principal = validatePrincipal({ role: input.role, subject: input.subject ?? randomUUID(), restaurantId: input.restaurantId ?? null, credentialsVersion: input.credentialsVersion, amr: input.amr });
      const claims: Record<string, unknown> = { role: principal.role };
      if (principal.restaurantId !== null) claims.rid = principal.restaurantId;
      // 0 is the absent claim: a customer who never changed a credential gets the token they got before.
      if (principal.credentialsVersion > 0) claims.cv = principal.credentialsVersion;
      if (principal.amr !== undefined) claims.amr = [principal.amr];
      const act = actOf(input.mintChain ?? []);
      if (act !== undefined) claims.act = act;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setSubject(principal.subject)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(key);
    },
    async verify(token) {
      let payload;
      try {
        // No clockTolerance: expiry is exact, so a revocation kept past its tokens' longest lifetime
        // needs a margin only for a verifying host's clock behind the database's (TOKEN_REVOCATION_GRACE_MS).
        ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER, requiredClaims: ['sub', 'exp', 'role', 'iat'] }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw new TokenError('TOKEN_EXPIRED', 'The token has expired; ask for a new one');
        throw new TokenError('TOKEN_INVALID', 'The token is not valid (bad signature, format or claims): ask for a new one. A token signed by another deployment, or by a process with another BRIGADE_SECRET, is refused too');
      }
      // jose has checked that exp and iat are numbers. A token that could outlive its revocation's row
      // (kept for TOKEN_MAX_LIFETIME_SECONDS and a grace, then pruned) would work again once it went.
      if (Number(payload.exp) - Number(payload.iat) > TOKEN_MAX_LIFETIME_SECONDS) {
        throw new TokenError(
          'TOKEN_INVALID',
          `The token lives longer than ${TOKEN_TTL_SECONDS.max / 86_400} days from its issue, which no token may any more (it was signed before lifetimes were bounded): ask for a new one`,
        );
      }
      try {
        const principal = validatePrincipal({
          role: payload.role as Role,
          subject: String(payload.sub),
          restaurantId: typeof payload.rid === 'string' ? payload.rid : null,
          credentialsVersion: payload.cv,
          amr: amrOf(payload.amr),
        });
        const mintChain = mintChainOf(payload.act);
        const issuedAt = Number(payload.iat) * 1000;
        const minted = mintChain.length === 0 ? {} : { mintedBy: mintChain[0]!, mintChain: Object.freeze(mintChain) };
        return Object.freeze({ ...principal, ...minted, expiresAt: Number(payload.exp) * 1000, issuedAt });
      } catch {
        throw new TokenError('TOKEN_INVALID', 'The token carries an unknown role, malformed ids or a malformed claim (act, cv, amr)');
      }
    },
  };
}

/** 401 with a specific code: TOKEN_EXPIRED or TOKEN_INVALID. */
export class TokenError extends UnauthorizedError {
  constructor(code: 'TOKEN_EXPIRED' | 'TOKEN_INVALID', message: string) {
    super(message, code);
  }
}

/**
 * The `act` claim of a chain of minters, nested as RFC 8693 §4.1 nests prior actors: the minter is the
 * outer `sub`, whoever minted the minter's token the `sub` of its `act`, and so on. None for an empty
 * chain. Throws for a subject that is no id or a chain longer than {@link MINT_CHAIN_MAX}.
 */
function actOf(chain: readonly string[]): Record<string, unknown> | undefined {
  if (chain.length > MINT_CHAIN_MAX) throw new ValidationError(`mintChain names at most ${MINT_CHAIN_MAX} minters, got ${chain.length}`, { field: 'mintChain' });
  let act: Record<string, unknown> | undefined;
  for (const sub of [...chain].reverse()) {
    if (!SUBJECT.test(sub)) throw new ValidationError('mintChain must hold ids', { field: 'mintChain' });
    // Each minter is an admin: its name folded, as tokenSubject folds it.
    const folded = sub.toLowerCase();
    act = act === undefined ? { sub: folded } : { sub: folded, act };
  }
  return act;
}

/**
 * The minters an `act` claim names, the outer one first: none without one, one for the flat `act` of
 * tokens minted before the chain was carried. Throws for an `act` of another shape (a level that is no
 * object, a `sub` that is no id) or nested deeper than {@link MINT_CHAIN_MAX}. Other members of a level
 * are ignored, as RFC 8693 lets them be.
 */
function mintChainOf(act: unknown): string[] {
  const chain: string[] = [];
  for (let level = act; level !== undefined; level = (level as { act?: unknown }).act) {
    const sub = typeof level === 'object' && level !== null ? (level as { sub?: unknown }).sub : undefined;
    if (typeof sub !== 'string' || !SUBJECT.test(sub)) throw new ValidationError('act.sub must be an id', { field: 'act' });
    // Folded as tokenSubject folds an admin's name: a token minted through `Night-Ops` before names `night-ops`.
    if (chain.push(sub.toLowerCase()) > MINT_CHAIN_MAX) throw new ValidationError(`act nests more than ${MINT_CHAIN_MAX} minters`, { field: 'act' });
  }
  return chain;
}

/**
 * The subject of a token of `role` as tokens carry it: an admin's name (letters, digits and `_.:-`, 1
 * to 100) and any other role's UUID (decision 0083) in lower case, so that what names a subject (a
 * revocation, say) matches the tokens of it however it was typed: `sign`, `verify` and `revokeTokens`
 * all go through it. An admin token signed before with a mixed-case name verifies as the folded name,
 * so either spelling revokes it (decision 0007, forty-ninth session; platform migration 0039 folded the
 * revocations recorded before).
 *
 * @throws {ValidationError} 400, `details.field` `role` or `subject`.
 *
 * @example
 * tokenSubject('staff', 'A1B2…') // 'a1b2…'
 * tokenSubject('admin', 'Night-Ops') // 'night-ops'
 */
export function tokenSubject(role: Role, subject: string): string {
  if (!(ROLES as readonly string[]).includes(role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, { field: 'role' });
  if (!SUBJECT.test(subject) || (role !== 'admin' && !isUuid(subject))) {
    throw new ValidationError(role === 'admin' ? 'subject must be an id (letters, digits and _.:-, 1 to 100 characters)' : 'subject must be a UUID', { field: 'subject' });
  }
  return subject.toLowerCase();
}

/** The one value of an `amr` claim (RFC 8176 makes it an array); throws for any other shape. */
function amrOf(amr: unknown): unknown {
  if (amr === undefined) return undefined;
  if (!Array.isArray(amr) || amr.length !== 1) throw new ValidationError('amr must hold one value', { field: 'amr' });
  return amr[0];
}

function validatePrincipal(p: { role: Role; subject: string; restaurantId: string | null; credentialsVersion: unknown; amr?: unknown }): Principal {
  const subject = tokenSubject(p.role, p.subject);
  if (p.role === 'staff' && (p.restaurantId === null || !isUuid(p.restaurantId))) {
    throw new ValidationError('a staff token needs restaurantId (a UUID)', { field: 'restaurantId' });
  }
  if (p.role !== 'staff' && p.restaurantId !== null) throw new ValidationError('only staff tokens carry a restaurantId', { field: 'restaurantId' });
  const cv = p.credentialsVersion;
  if (cv !== undefined) {
    if (p.role !== 'customer') throw new ValidationError('only customer tokens carry a credentialsVersion', { field: 'credentialsVersion' });
    if (typeof cv !== 'number' || !Number.isInteger(cv) || cv < 0 || cv > MAX_CREDENTIALS_VERSION) {
      throw new ValidationError(`credentialsVersion must be a whole number from 0 to ${MAX_CREDENTIALS_VERSION}`, { field: 'credentialsVersion' });
    }
  }
  const amr = p.amr;
  if (amr !== undefined) {
    if (p.role !== 'customer') throw new ValidationError('only customer tokens carry an amr (a sign-up or reset token)', { field: 'amr' });
    if (!(FIRST_PASSWORD_PROOFS as readonly unknown[]).includes(amr)) throw new ValidationError(`amr must be one of ${FIRST_PASSWORD_PROOFS.join(', ')}`, { field: 'amr' });
  }
  // UUIDs in their lower-case form, as path parameters are taken (decision 0083): a staff token minted
  // with an upper-case restaurant id matched no route's restaurant.
  return Object.freeze({
    role: p.role,
    subject,
    restaurantId: p.restaurantId === null ? null : p.restaurantId.toLowerCase(),
    credentialsVersion: (cv as number | undefined) ?? 0,
    ...(amr === undefined ? {} : { amr: amr as FirstPasswordProof }),
  });
}

/**
 * The signing secret: `BRIGADE_SECRET` when configured, else one generated once and kept in
 * `<home>/secret` (mode 0600), so tokens survive restarts. The file appears whole or not at all
 * (written aside, then linked into place), so a process starting beside another never reads half of
 * it; one that is there but shorter than 32 characters is refused, as a short `BRIGADE_SECRET` is.
 *
 * @throws {BrigadeError} `SECRET_INVALID` for a short stored secret, `SECRET_UNAVAILABLE` when none can be written.
 */
export async function loadOrCreateSecret(configured: string | null, home: string): Promise<string> {
  if (configured !== null) return configured;
  const file = path.join(home, 'secret');
  const stored = await readSecret(file);
  if (stored !== null) return stored;
  const secret = randomBytes(48).toString('base64url');
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fs.mkdir(home, { recursive: true });
    await fs.writeFile(aside, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    await fs.link(aside, file);
    return secret;
  } catch (error) {
    // Another process linked its secret first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readSecret(file)) ?? secret;
    throw new BrigadeError('SECRET_UNAVAILABLE', 500, `Cannot write the token secret to ${file}; set BRIGADE_SECRET or make ${home} writable`, { cause: error });
  } finally {
    await fs.rm(aside, { force: true }).catch(() => undefined);
  }
}

/** The secret stored in `file`, or null when there is none. */
async function readSecret(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BrigadeError('SECRET_UNAVAILABLE', 500, `Cannot read the token secret in ${file}; set BRIGADE_SECRET or make it readable`, { cause: error });
  }
  const secret = text.trim();
  if (secret.length < 32) {
    throw new BrigadeError('SECRET_INVALID', 500, `The token secret in ${file} has ${secret.length} characters, fewer than 32: delete the file (a new one is generated; tokens signed with the old one stop working) or set BRIGADE_SECRET`);
  }
  return secret;
}
