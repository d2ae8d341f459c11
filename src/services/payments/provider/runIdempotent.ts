import { createHash } from 'node:crypto';
import type pg from 'pg';
import { BrigadeError } from '../../../platform/errors/index.ts';
import { IdempotencyKeyReusedError } from './providerErrors.ts';
import { poolTransaction } from '../../../platform/db/index.ts';

/** What a request answered: replayed byte-for-byte (as JSON) for the same key and request. */
export interface IdempotentOutcome {
  readonly status: number;
  /** The resource on success; `{ code, message, details }` for a stored refusal (4xx). */
  readonly body: Record<string, unknown>;
  /** `true` when this is the stored answer of an earlier request. */
  readonly replayed: boolean;
}

/** The request's fingerprint: method, path and canonical JSON of the body (keys sorted). */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body)}`).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * Runs `effect` at most once per Idempotency-Key: the key, the effect and the stored answer commit in
 * one transaction. The same key with the same request replays the stored answer; with a different
 * request it is refused (422 IDEMPOTENCY_KEY_REUSED). Refusals with a 4xx status (a declined card, a
 * refund larger than the charge) are answers too and are stored; anything else rolls back with the key,
 * so a retry runs the effect afresh.
 *
 * Concurrency: the key row is inserted first, so a duplicate arriving while the first is in flight
 * waits on the primary key until the first commits (then replays it) or rolls back (then runs).
 */
export async function runIdempotent(
  pool: pg.Pool,
  key: string,
  hash: string,
  effect: (client: pg.PoolClient) => Promise<{ status: number; body: Record<string, unknown> }>,
): Promise<IdempotentOutcome> {
  return poolTransaction(pool, async (client) => {
    const claimed = await client.query(
      `insert into payment_provider.idempotency_keys (key, request_hash) values ($1, $2) on conflict (key) do nothing returning key`,
      [key, hash],
    );
    if (claimed.rowCount === 0) {
      const stored = await client.query<{ request_hash: string; status: number; body: Record<string, unknown> }>(
        `select request_hash, status, body from payment_provider.idempotency_keys where key = $1`,
        [key],
      );
      const row = stored.rows[0];
      if (row === undefined || row.request_hash !== hash) throw new IdempotencyKeyReusedError(key);
      return { status: row.status, body: row.body, replayed: true };
    }
    let outcome: { status: number; body: Record<string, unknown> };
    await client.query('savepoint effect');
    try {
      outcome = await effect(client);
    } catch (error) {
      if (!(error instanceof BrigadeError) || error.status >= 500) throw error;
      // A refusal is the answer to this key: undo the effect's partial writes, keep the key and the answer.
      await client.query('rollback to savepoint effect');
      outcome = { status: error.status, body: { code: error.code, message: error.message, details: error.details } };
    }
    await client.query(`update payment_provider.idempotency_keys set status = $2, body = $3 where key = $1`, [key, outcome.status, outcome.body]);
    return { ...outcome, replayed: false };
  });
}
