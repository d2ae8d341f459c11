/**
 * The error catalogue. Every error Brigade raises on purpose is a {@link BrigadeError} with a stable
 * `code` (clients and tests match on it, never on the message) and the HTTP status it maps to.
 * Causes are kept with `{ cause }`. PostgreSQL SQLSTATEs are turned into these in gateways only.
 */
export class BrigadeError extends Error {
  /** Stable, upper-snake-case code, e.g. `CONFIG_INVALID`. */
  readonly code: string;
  /** HTTP status the API answers with. */
  readonly status: number;
  /** Extra machine-readable fields for the problem document (e.g. the field that is wrong). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, status: number, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** 400: input failed validation. `details.field` names what is wrong. */
export class ValidationError extends BrigadeError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('VALIDATION_FAILED', 400, message, { details });
  }
}

/** 404: the resource does not exist, or belongs to another tenant (never 403 for that). */
export class NotFoundError extends BrigadeError {
  constructor(what: string, id?: string) {
    super('NOT_FOUND', 404, id === undefined ? `${what} not found` : `${what} ${id} not found`, { details: { resource: what } });
  }
}

/** 401: no credentials, or credentials that cannot be trusted. */
export class UnauthorizedError extends BrigadeError {
  constructor(message = 'A valid bearer token is required', code = 'UNAUTHORIZED') {
    super(code, 401, message);
  }
}

/** 403: authenticated, but the role may not do this. */
export class ForbiddenError extends BrigadeError {
  constructor(message = 'Your role may not do this') {
    super('FORBIDDEN', 403, message);
  }
}

/** A version as the problem document carries it: a number (a bigint too, while it fits), else its text (`'any'`). */
const versionJson = (version: number | bigint | string): number | string =>
  typeof version === 'number' ? version : typeof version === 'bigint' && Number.isSafeInteger(Number(version)) ? Number(version) : String(version);

/**
 * 409 / 412: a write raced another. HTTP writes with If-Match surface it as 412. `details.expected` and
 * `details.actual` are numbers (they were strings beside a numeric `currentVersion`); a caller that
 * knows the resource's current version puts it in `details.currentVersion`, and the API sends it as the
 * 412's `ETag` too.
 */
export class ConcurrencyError extends BrigadeError {
  constructor(
    readonly expected: number | bigint | string,
    readonly actual: number | bigint | string | null,
    message = `Expected version ${String(expected)} but found ${actual === null ? 'none' : String(actual)}`,
    details: Record<string, unknown> = {},
  ) {
    super('CONCURRENCY_CONFLICT', 412, message, { details: { expected: versionJson(expected), actual: actual === null ? null : versionJson(actual), ...details } });
  }
}

/** 428: a write that needs If-Match came without it. */
export class PreconditionRequiredError extends BrigadeError {
  constructor(message = 'This write needs an If-Match header with the version you read') {
    super('PRECONDITION_REQUIRED', 428, message);
  }
}

/** 422: the command is well-formed but the current state forbids it. */
export class UnprocessableError extends BrigadeError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, 422, message, { details });
  }
}

/** 500/503 family raised by infrastructure: database down, broker unreachable. */
export class UnavailableError extends BrigadeError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('UNAVAILABLE', 503, message, options);
  }
}
