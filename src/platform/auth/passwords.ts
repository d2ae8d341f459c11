import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * How a password is hashed now: scrypt with N = 2^15, r = 8, p = 1 (32 MiB, and 0.1 to 0.2 s of
 * CPU a hash on the 2-core machine), a random 16-byte salt and a 64-byte key. Every stored hash records the
 * parameters it was made with, so raising them later leaves older hashes verifiable
 * ({@link passwordNeedsRehash} tells which to upgrade at the next sign-in).
 */
export const SCRYPT_PARAMETERS = Object.freeze({ N: 2 ** 15, r: 8, p: 1, saltBytes: 16, keyBytes: 64 });

/** How long a password may be, in characters (the routes' schemas take their bounds from here). */
export const PASSWORD_LENGTH = Object.freeze({ min: 8, max: 200 });

/**
 * The bounds a stored hash's parameters must keep to be verified: a value outside them is not one we
 * wrote, and verifying it could ask for any amount of memory or time.
 */
const BOUNDS = Object.freeze({ N: [2 ** 10, 2 ** 20], r: [1, 32], p: [1, 16], saltBytes: [8, 64], keyBytes: [16, 128] });

const PREFIX = 'scrypt';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

interface Parsed {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/**
 * Hashes a password for storage: `scrypt$N$r$p$<salt base64>$<key base64>`. The password is taken in
 * its Unicode NFC form, so the same text typed on two keyboards (a composed or a decomposed "é")
 * hashes alike. Its length is the caller's to check ({@link PASSWORD_LENGTH}).
 *
 * @example
 * const stored = await hashPassword(body.password); // 'scrypt$32768$8$1$…$…'
 */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, saltBytes, keyBytes } = SCRYPT_PARAMETERS;
  const salt = randomBytes(saltBytes);
  const key = await derive(password, { N, r, p, salt, key: Buffer.alloc(keyBytes) });
  return format({ N, r, p, salt, key });
}

/**
 * Whether `password` is the one `stored` was made from, compared in constant time
 * (`timingSafeEqual`). With `stored` null (an unknown account, or one without a password) it does the
 * same work, a hash of the password against a dummy of the current parameters, and answers false: the
 * time taken does not tell the cases apart.
 *
 * @throws {Error} `stored` is not a hash {@link hashPassword} wrote (another scheme, a broken value, or
 *   parameters out of bounds): a fault in the data, never taken as a match or a mismatch.
 *
 * @example
 * const ok = await verifyPassword(body.password, row?.passwordHash ?? null);
 */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parsed = stored === null ? DUMMY : parse(stored);
  const key = await derive(password, parsed);
  return timingSafeEqual(key, parsed.key) && stored !== null;
}

/**
 * Whether `stored` was made with other parameters than {@link SCRYPT_PARAMETERS} (older, weaker
 * ones): then hash the password again once it has been verified, and store the new hash.
 *
 * @throws {Error} `stored` is not a hash {@link hashPassword} wrote.
 */
export function passwordNeedsRehash(stored: string): boolean {
  const { N, r, p, salt, key } = parse(stored);
  const now = SCRYPT_PARAMETERS;
  return N !== now.N || r !== now.r || p !== now.p || salt.length !== now.saltBytes || key.length !== now.keyBytes;
}

/**
 * What {@link verifyPassword} compares with when there is no hash: the current parameters, a random
 * salt and a random key, which no password derives (2^-512).
 */
const DUMMY: Parsed = Object.freeze({ N: SCRYPT_PARAMETERS.N, r: SCRYPT_PARAMETERS.r, p: SCRYPT_PARAMETERS.p, salt: randomBytes(SCRYPT_PARAMETERS.saltBytes), key: randomBytes(SCRYPT_PARAMETERS.keyBytes) });

function derive(password: string, { N, r, p, salt, key }: Parsed): Promise<Buffer> {
  // scrypt needs 128·r·N bytes for V and 128·r·p for B; Node's default cap (32 MiB) is exactly V at
  // N = 2^15, r = 8, and refuses it with the rest, so the cap is set from the parameters, plus room.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * r * (N + p + 2) + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, key.length, options, (error, derived) => (error === null ? resolve(derived) : reject(error)));
  });
}

function format({ N, r, p, salt, key }: Parsed): string {
  return [PREFIX, N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

function parse(stored: string): Parsed {
  const parts = stored.split('$');
  const [scheme, n, r, p, salt, key] = parts;
  const int = (text: string | undefined, [min, max]: readonly number[]): number | null => {
    const value = /^[0-9]{1,10}$/.test(text ?? '') ? Number(text) : NaN;
    return value >= min! && value <= max! ? value : null;
  };
  const bytes = (text: string | undefined, [min, max]: readonly number[]): Buffer | null => {
    const value = BASE64.test(text ?? '') ? Buffer.from(text!, 'base64') : null;
    return value !== null && value.length >= min! && value.length <= max! ? value : null;
  };
  const parsed = { N: int(n, BOUNDS.N), r: int(r, BOUNDS.r), p: int(p, BOUNDS.p), salt: bytes(salt, BOUNDS.saltBytes), key: bytes(key, BOUNDS.keyBytes) };
  const { N } = parsed;
  // N must be a power of two (scrypt refuses others).
  if (parts.length !== 6 || scheme !== PREFIX || N === null || (N & (N - 1)) !== 0 || parsed.r === null || parsed.p === null || parsed.salt === null || parsed.key === null) {
    throw new Error('The stored value is not a password hash of this platform (scrypt$N$r$p$salt$key with parameters in bounds)');
  }
  return { N, r: parsed.r, p: parsed.p, salt: parsed.salt, key: parsed.key };
}
