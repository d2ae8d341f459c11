import type { ChargeRequest } from './authorizeCharge.ts';
import {
  PaymentDeclinedError,
  PaymentProviderAnswerInvalidError,
  PaymentProviderCallAbortedError,
  PaymentProviderCredentialsError,
  PaymentProviderOutcomeUnknownError,
  PaymentProviderTimeoutError,
  PaymentProviderUnavailableError,
  PaymentRejectedError,
  PaymentRequestChangedError,
} from './clientErrors.ts';
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

/**
 * The provider's API as Brigade calls it. Every money-moving call takes the idempotency key to send.
 * Every call takes an optional `signal` (a saga step's `ctx.signal`): when it aborts, the request is
 * abandoned at once and the call fails with {@link PaymentProviderCallAbortedError}.
 */
export interface PaymentProviderClient {
  /** Authorizes a charge. @throws {@link PaymentDeclinedError} for a declined card. */
  charge(request: ChargeRequest, idempotencyKey: string, signal?: AbortSignal): Promise<Charge>;
  /**
   * Captures an authorized charge (in full). `expected`: the charge's amount and currency, which the
   * answer must carry with status `captured` (the request itself sends neither: its body stays `{}`, so
   * a capture retried under its key is the same request).
   */
  capture(chargeId: string, idempotencyKey: string, expected: CaptureExpected, signal?: AbortSignal): Promise<Charge>;
  /**
   * Voids an authorized charge (releases the authorization; nothing was taken). `expected`: the charge's
   * amount and currency, which the answer must carry with status `voided` (the request's body stays `{}`,
   * as a capture's). A charge that is not authorized (captured, say) is refused: {@link PaymentRejectedError}
   * with `details.providerCode` `CHARGE_NOT_VOIDABLE` and `details.chargeStatus`.
   */
  void(chargeId: string, idempotencyKey: string, expected: VoidExpected, signal?: AbortSignal): Promise<Charge>;
  /** Refunds (part of) a captured charge. `expected.currency`: the charge's, which the answer must carry (the request sends none). */
  refund(request: RefundRequest, idempotencyKey: string, expected: RefundExpected, signal?: AbortSignal): Promise<Refund>;
  /** Pays out to a destination. */
  payout(request: PayoutRequest, idempotencyKey: string, signal?: AbortSignal): Promise<Payout>;
  /** The provider's ledger, optionally filtered. */
  ledger(filter?: LedgerFilter, signal?: AbortSignal): Promise<LedgerEntry[]>;
}

/** What a capture's answer must carry besides the charge's id: the charge's amount and currency. */
export interface CaptureExpected {
  /** Minor units: the whole charge (the provider captures in full). */
  readonly amount: number;
  readonly currency: string;
}

/** What a void's answer must carry besides the charge's id: the charge's amount and currency. */
export type VoidExpected = CaptureExpected;

/** What a refund's answer must carry besides the charge and the amount asked for. */
export interface RefundExpected {
  /** The charge's currency. */
  readonly currency: string;
}

/** What a 2xx answer must be: `null` when it is, else what is wrong with it. */
type AnswerCheck = (payload: Record<string, unknown>) => string | null;

/** A check of an answer's members against what was asked: the first that differs, or `null`. */
const expecting = (what: string, expected: Record<string, unknown>): AnswerCheck => (payload) => {
  if (typeof payload.id !== 'string' || payload.id === '') return `a ${what} without an id`;
  for (const [member, value] of Object.entries(expected)) {
    if (payload[member] !== value) return `a ${what} whose ${member} is ${JSON.stringify(payload[member])}, not ${JSON.stringify(value)}`;
  }
  return null;
};

/**
 * An HTTP client of the payment provider with typed failures: {@link PaymentDeclinedError} (402),
 * {@link PaymentProviderUnavailableError} (5xx, 408, 429 or connection refused), {@link PaymentProviderTimeoutError}
 * (no answer within `timeoutMs`), {@link PaymentRequestChangedError} (the key was used with another
 * request), {@link PaymentProviderCredentialsError} (401, 403), {@link PaymentProviderOutcomeUnknownError}
 * (400, 404 or 409 to a money-moving call: no answer to its key), {@link PaymentRejectedError} (other 4xx),
 * {@link PaymentProviderAnswerInvalidError} (a 2xx whose body is not the charge, refund or payout asked
 * for: its id missing, its amount, currency, destination or charge another, or a charge's status not
 * `authorized`, a capture's not `captured`, a void's not `voided`), {@link PaymentProviderCallAbortedError}
 * (the caller's `signal` aborted first). The client does not retry: the caller (a saga step) does, with
 * the same key.
 *
 * @example
 * const provider = createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:3001', timeoutMs: 2000 });
 * const charge = await provider.charge({ amount: 1250, currency: 'EUR', card, reference: orderId }, `${sagaId}:charge`);
 */
export function createPaymentProviderClient(options: PaymentProviderClientOptions): PaymentProviderClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const call = async <T>(method: 'GET' | 'POST', path: string, check: AnswerCheck, signal: AbortSignal | undefined, body?: unknown, idempotencyKey?: string): Promise<T> => {
    // The caller's signal beside the client's timeout. Before, a call ran to its timeout whatever its
    // caller did, and a saga runner stopping (a shutdown) waited for it: up to three calls of up to
    // PAYMENT_PROVIDER_TIMEOUT_MS each in one charge step.
    const timeout = AbortSignal.timeout(options.timeoutMs);
    /** What a call that ended before its answer throws: abandoned by the caller, or timed out; `null` for any other failure. */
    const ended = (cause: unknown) => {
      if (signal?.aborted === true) return new PaymentProviderCallAbortedError(method, path, idempotencyKey, { cause: signal.reason });
      if (cause instanceof DOMException && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) return new PaymentProviderTimeoutError(options.timeoutMs, { cause });
      return null;
    };
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
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
    } catch (cause) {
      throw ended(cause) ?? new PaymentProviderUnavailableError(`The payment provider at ${base} could not be reached`, { cause });
    }
    let payload: Record<string, unknown>;
    try {
      const parsed: unknown = await response.json();
      // JSON that is not an object (null, a list, a number) has none of the members read below.
      payload = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch (cause) {
      throw ended(cause) ?? new PaymentProviderUnavailableError(`The payment provider answered ${response.status} without a JSON body`, { cause });
    }
    if (response.ok) {
      const wrong = check(payload);
      if (wrong === null) return payload as T;
      throw new PaymentProviderAnswerInvalidError(
        `The payment provider answered ${method} ${path} with ${response.status} and ${wrong}; whether it acted is unknown` +
          (idempotencyKey === undefined ? '' : `: look key ${idempotencyKey} up in its ledger`),
      );
    }
    const detail = typeof payload.detail === 'string' ? payload.detail : `HTTP ${response.status}`;
    if (response.status === 402) throw new PaymentDeclinedError(detail);
    // Busy or slow: nothing refused for good; retried with the same key.
    if (response.status >= 500 || response.status === 408 || response.status === 429) throw new PaymentProviderUnavailableError(`The payment provider answered ${response.status}: ${detail}`);
    if (response.status === 401 || response.status === 403) {
      throw new PaymentProviderCredentialsError(response.status, `The payment provider refused the platform's credentials (${response.status}: ${detail}); check PAYMENT_PROVIDER_URL and the provider account`);
    }
    if (payload.code === 'IDEMPOTENCY_KEY_REUSED' && idempotencyKey !== undefined) throw new PaymentRequestChangedError(idempotencyKey, detail);
    const code = typeof payload.code === 'string' ? payload.code : 'UNKNOWN';
    // No answer to the key: a request with it still in progress (409), no such route (404), a request
    // not taken up (400). The key's earlier request may have moved money, or may yet: unknown, retried.
    // Read as a refusal, a charge retried after a timeout was "nothing charged" (decision 0079).
    if (idempotencyKey !== undefined && (response.status === 409 || response.status === 404 || response.status === 400)) {
      throw new PaymentProviderOutcomeUnknownError(
        response.status,
        code,
        `The payment provider answered ${method} ${path} with ${response.status}: ${detail}; whether it acted under key ${idempotencyKey} is unknown: look it up in its ledger`,
      );
    }
    throw new PaymentRejectedError(response.status, code, detail, typeof payload.chargeStatus === 'string' ? payload.chargeStatus : undefined);
  };
  return {
    // A charge is an authorization (status `authorized`), a capture a captured charge of the whole amount:
    // a 2xx whose status says otherwise ('declined', 'authorized') moved no money as asked. Before, only
    // the ids and amounts were checked: a charge answered 201 'declined' became the saga's charge, and a
    // capture answered 'authorized' counted as captured, so the payouts paid for money never captured.
    charge: (request, key, signal) =>
      call<Charge>('POST', '/charges', expecting('charge', { amount: request.amount, currency: request.currency, reference: request.reference, status: 'authorized' }), signal, request, key),
    capture: (chargeId, key, expected, signal) =>
      call<Charge>('POST', `/charges/${encodeURIComponent(chargeId)}/capture`, expecting('charge', { id: chargeId, status: 'captured', amount: expected.amount, currency: expected.currency }), signal, {}, key),
    void: (chargeId, key, expected, signal) =>
      call<Charge>('POST', `/charges/${encodeURIComponent(chargeId)}/void`, expecting('charge', { id: chargeId, status: 'voided', amount: expected.amount, currency: expected.currency }), signal, {}, key),
    refund: (request, key, expected, signal) => call<Refund>('POST', '/refunds', expecting('refund', { chargeId: request.chargeId, amount: request.amount, currency: expected.currency }), signal, request, key),
    payout: (request, key, signal) => call<Payout>('POST', '/payouts', expecting('payout', { destination: request.destination, amount: request.amount, currency: request.currency }), signal, request, key),
    ledger: async (filter = {}, signal) => {
      const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === 'string')).toString();
      const entriesListed: AnswerCheck = (payload) => (Array.isArray(payload.entries) ? null : 'no list of entries');
      return (await call<{ entries: LedgerEntry[] }>('GET', `/ledger${query ? `?${query}` : ''}`, entriesListed, signal)).entries;
    },
  };
}
