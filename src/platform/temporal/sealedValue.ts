import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SealedValueError } from './errors.ts';

/** What every sealed value starts with; the format's version follows. */
const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes of a data key: AES-256. */
export const DATA_KEY_BYTES = 32;

/** A new random data key for one subject (AES-256-GCM). */
export function newDataKey(): Buffer {
  return randomBytes(DATA_KEY_BYTES);
}

/**
 * Whether `value` is a sealed value: a string `sealed:v1:<keyId>:<base64url of iv, ciphertext and tag>`.
 * Self-describing, so a reader finds what to open and under which key wherever the value was copied
 * (an event's data, an outbox message, a view's column) without the event's envelope.
 */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

/** The id of the key `sealed` was sealed under. @throws {SealedValueError} not a sealed value. */
export function keyIdOf(sealed: string): string {
  const end = sealed.lastIndexOf(':');
  if (!isSealed(sealed) || end <= PREFIX.length) throw new SealedValueError('not a sealed value');
  return sealed.slice(PREFIX.length, end);
}

/**
 * Seals `plaintext` under `key` (AES-256-GCM, a random 96-bit IV), bound to `keyId`: a value moved to
 * another key's name does not open.
 *
 * @example
 * const sealed = seal('Rua 1, Porto', key, 'customer:0190…'); // 'sealed:v1:customer:0190…:…'
 */
export function seal(plaintext: string, key: Buffer, keyId: string): string {
  if (key.length !== DATA_KEY_BYTES) throw new SealedValueError(`a data key is ${DATA_KEY_BYTES} bytes, not ${key.length}`);
  if (keyId === '' || /\s/.test(keyId)) throw new SealedValueError('a key id is not empty and has no white space');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(keyId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${PREFIX}${keyId}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/**
 * Opens a value {@link seal} made.
 *
 * @throws {SealedValueError} not a sealed value, or it does not open under `key` (another key, or altered).
 */
export function unseal(sealed: string, key: Buffer): string {
  const keyId = keyIdOf(sealed);
  const raw = Buffer.from(sealed.slice(sealed.lastIndexOf(':') + 1), 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SealedValueError(`sealed value under ${keyId} is too short`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SealedValueError(`sealed value under ${keyId} does not open with its key: it was altered, or the key is not the one it was sealed with`, { cause: error });
  }
}
