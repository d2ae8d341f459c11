import type { ChargeRequest } from './authorizeCharge.ts';
import { PaymentDeclinedError, PaymentProviderTimeoutError, PaymentProviderUnavailableError, PaymentRejectedError, PaymentRequestChangedError } from './clientErrors.ts';
import type { PayoutRequest } from './createPayout.ts';
import type { LedgerFilter } from './readLedger.ts';
import type { RefundRequest } from './refundCharge.ts';
import type { Charge, LedgerEntry, Payout, Refund } from './resources.ts';

/** Options of {@link createPaymentProviderClient}. */
export interface PaymentProviderClientOptions {
  /** The provider's base URL, e.g. `http://127.0.0.1:3001`. */
  readonly baseUrl: string;
  /** How long one request may take before it fails with {@link PaymentProviderTimeoutError}. */
  readonly timeoutMs: number;
}

/** The provider's API as Brigade calls it. Every money-moving call takes the idempotency key to send. */
export interface PaymentProviderClient {
  /** Authorizes a charge. @throws {@link PaymentDeclinedError} for a declined card. */
  charge(request: ChargeRequest, idempotencyKey: string): Promise<Charge>;
  /** Captures an authorized charge. */
  capture(chargeId: string, idempotencyKey: string): Promise<Charge>;
  /** Refunds (part of) a captured charge. */
  refund(request: RefundRequest, idempotencyKey: string): Promise<Refund>;
  /** Pays out to a destination. */
  payout(request: PayoutRequest, idempotencyKey: string): Promise<Payout>;
  /** The provider's ledger, optionally filtered. */
  ledger(filter?: LedgerFilter): Promise<LedgerEntry[]>;
}

/**
 * An HTTP client of the payment provider with typed failures: {@link PaymentDeclinedError} (402),
 * {@link PaymentProviderUnavailableError} (5xx or connection refused), {@link PaymentProviderTimeoutError}
 * (no answer within `timeoutMs`), {@link PaymentRequestChangedError} (the key was used with another
 * request), {@link PaymentRejectedError} (other 4xx). The client does not retry:
 * the caller (a saga step) does, with the same key.
 *
 * @example
 * const provider = createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:3001', timeoutMs: 2000 });
 * const charge = await provider.charge({ amount: 1250, currency: 'EUR', card, reference: orderId }, `${sagaId}:charge`);
 */
export function createPaymentProviderClient(options: PaymentProviderClientOptions): PaymentProviderClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(idempotencyKey !== undefined ? { 'idempotency-key': idempotencyKey } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (cause) {
      if (cause instanceof DOMException && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) throw new PaymentProviderTimeoutError(options.timeoutMs, { cause });
      throw new PaymentProviderUnavailableError(`The payment provider at ${base} could not be reached`, { cause });
    }
    let payload: Record<string, unknown>;
    try {
      payload = (await response.json()) as Record<string, unknown>;
    } catch (cause) {
      if (cause instanceof DOMException && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) throw new PaymentProviderTimeoutError(options.timeoutMs, { cause });
      throw new PaymentProviderUnavailableError(`The payment provider answered ${response.status} without a JSON body`, { cause });
    }
    if (response.ok) return payload as T;
    const detail = typeof payload.detail === 'string' ? payload.detail : `HTTP ${response.status}`;
    if (response.status === 402) throw new PaymentDeclinedError(detail);
    if (response.status >= 500) throw new PaymentProviderUnavailableError(`The payment provider answered ${response.status}: ${detail}`);
    if (payload.code === 'IDEMPOTENCY_KEY_REUSED' && idempotencyKey !== undefined) throw new PaymentRequestChangedError(idempotencyKey, detail);
    throw new PaymentRejectedError(response.status, typeof payload.code === 'string' ? payload.code : 'UNKNOWN', detail);
  };
  return {
    charge: (request, key) => call<Charge>('POST', '/charges', request, key),
    capture: (chargeId, key) => call<Charge>('POST', `/charges/${encodeURIComponent(chargeId)}/capture`, {}, key),
    refund: (request, key) => call<Refund>('POST', '/refunds', request, key),
    payout: (request, key) => call<Payout>('POST', '/payouts', request, key),
    ledger: async (filter = {}) => {
      const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === 'string')).toString();
      return (await call<{ entries: LedgerEntry[] }>('GET', `/ledger${query ? `?${query}` : ''}`)).entries;
    },
  };
}
