import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, Role, TokenService } from '../platform/auth/index.ts';
import type { Actor, UnitOfWorkContext } from '../platform/db/index.ts';
import { BrigadeError, ForbiddenError, NotFoundError, UnauthorizedError } from '../platform/errors/index.ts';
import { isUuid } from '../platform/ids/index.ts';
import { problemDocument } from './problem.ts';
import { headerLines } from './headerLines.ts';
import { storableCopy } from './requestInput.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the verified bearer token says the caller is; `null` without a token. */
    principal: Principal | null;
    /** What a route adds to an admin request's audit entry (its `target`), beyond the path parameters and the query: what it made, say. */
    auditDetails: Readonly<Record<string, unknown>> | null;
    /**
     * A verified token that `checkPrincipal` refused (401, a revoked token), with the refusal's code:
     * kept only so that the admin audit can name who tried. It authorizes nothing; `principal` stays null.
     */
    refusedToken: { readonly principal: Principal; readonly code: string } | null;
  }
  interface FastifyReply {
    /**
     * Audits an admin's request now, before the route takes its reply over (`reply.hijack()`, e.g. a
     * Server-Sent Events stream): the hook that audits every other answer does not run for a hijacked
     * reply. Does nothing for other callers, or when the app keeps no audit trail. Throws
     * {@link AuditUnavailableError} (503) when the entry cannot be written, so the stream never starts.
     */
    auditBeforeHijack(): Promise<void>;
  }
}

// RFC 9110 §11.1: the scheme is case-insensitive, and one or more spaces part it from the token (§11.4).
const BEARER = /^Bearer +([A-Za-z0-9._-]+)$/i;

/** Whether the request's route declares a bearer token in its schema (`security`), as the OpenAPI page shows it. */
const needsToken = (request: FastifyRequest): boolean => (request.routeOptions.schema?.security?.length ?? 0) > 0;

/**
 * Verifies `Authorization: Bearer <token>` on every request. A request without one is anonymous,
 * and gets 401 at once on a route whose schema declares `security` (before its input is validated:
 * an anonymous caller learns nothing of a route's body); a bad, expired or forged token is refused
 * with 401 even on public routes. On such a route under `/restaurants/:rid`, staff of another
 * restaurant get 404 before validation too. Tenant and actor come from the token only: no other
 * header is read for them. `checkPrincipal`, when given, runs on every verified token and refuses one
 * by throwing (a revoked token: 401); a token it refuses with a 401 is kept in `request.refusedToken`
 * for the admin audit, never as the principal.
 */
export function registerAuthentication(app: FastifyInstance, tokens: TokenService, checkPrincipal?: (principal: Principal) => Promise<void>): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('refusedToken', null);
  app.addHook('onRequest', async (request) => {
    // Node keeps the first of several Authorization lines and drops the rest: a proxy in front that reads
    // another one would see another caller. Refused, whatever they hold.
    if (Array.isArray(headerLines(request.raw.rawHeaders, 'authorization'))) {
      throw new UnauthorizedError('The Authorization header was sent more than once; send one "Bearer <token>"', 'TOKEN_INVALID');
    }
    const header = request.headers.authorization;
    if (header === undefined) {
      if (needsToken(request)) throw new UnauthorizedError();
      return;
    }
    const match = BEARER.exec(header);
    if (match?.[1] === undefined) throw new UnauthorizedError('The Authorization header must be "Bearer <token>"', 'TOKEN_INVALID');
    const principal = await tokens.verify(match[1]);
    try {
      await checkPrincipal?.(principal);
    } catch (error) {
      // Not a principal: only the audit of a revoked admin token's attempt reads it (registerAdminAudit).
      if (error instanceof UnauthorizedError) request.refusedToken = { principal, code: error.code };
      throw error;
    }
    request.principal = principal;
  });
  // Staff of another restaurant learn nothing of a route under /restaurants/:rid that needs a token,
  // not even its input rules: 404 for the restaurant before the input is validated, as after.
  app.addHook('preValidation', async (request) => {
    const principal = request.principal;
    if (principal?.role !== 'staff' || !needsToken(request)) return;
    const rid = (request.params as { rid?: unknown } | null)?.rid;
    if (typeof rid === 'string' && isUuid(rid) && rid.toLowerCase() !== principal.restaurantId?.toLowerCase()) throw new NotFoundError('restaurant', rid.toLowerCase());
  });
}

/** The caller's principal if its role is one of `roles`; 401 without a token, 403 with another role. */
export function authorize(request: FastifyRequest, ...roles: Role[]): Principal {
  const principal = request.principal;
  if (principal === null) throw new UnauthorizedError();
  if (!roles.includes(principal.role)) throw new ForbiddenError(`This needs the role ${roles.join(' or ')}; your token is ${principal.role}`);
  return principal;
}

/** A principal as the actor of a transaction: its role and subject. */
export function actorOf(principal: Principal): Actor {
  return { kind: principal.role, id: principal.subject };
}

/** The unit-of-work context a principal acts in: its tenant (staff) and itself as the actor. */
export function actorContext(principal: Principal, service: string, tenantId: string | null = principal.restaurantId): UnitOfWorkContext {
  return { service, tenantId, actor: actorOf(principal) };
}

/** The signed-in caller as an actor, or `null` for an anonymous request: whose writes a public read should see (`ownWritesOf`). */
export function callerOf(request: FastifyRequest): Actor | null {
  return request.principal === null ? null : actorOf(request.principal);
}

/** One audited admin request. */
export interface AdminAuditEntry {
  readonly actorId: string;
  readonly method: string;
  readonly route: string;
  readonly target: Readonly<Record<string, unknown>>;
  readonly status: number;
  readonly requestId: string;
}

/** 503: an admin's request was handled but its audit entry could not be written, so its answer is withheld. */
export class AuditUnavailableError extends BrigadeError {
  constructor(handledStatus: number | undefined) {
    super(
      'AUDIT_UNAVAILABLE',
      503,
      handledStatus === undefined
        ? 'The audit trail cannot be written, so this admin request was not started; retry once the database is healthy.'
        : `This admin request was handled (status ${handledStatus}) but its audit entry could not be written, so its answer is withheld. ` +
            'A change it made stands: check the server log (it has the entry, by request id) before you retry it.',
      { details: handledStatus === undefined ? {} : { handledStatus } },
    );
  }
}

/**
 * Audits every request made with an admin token, whatever its outcome: a structured log line and a
 * call to `record` (the platform service writes it to its audit table) before the response is sent.
 * A request whose verified admin token the check refused (revoked: 401, `request.refusedToken`) is
 * audited too, with `target.refused` (the code), so that a leaked token's tries after its revocation
 * show in the trail; that entry is best-effort, as failing closed would turn the 401 into a 503.
 * The entry is made storable first ({@link storableCopy}): a NUL or half a surrogate pair anywhere in
 * it, as a refused request's query or path brings, is written as its escape, `\u0000`, in plain text.
 * The audit fails closed: when `record` fails, the admin gets 503 `AUDIT_UNAVAILABLE` instead of the
 * answer (a change the request made stands, and the 503 says so; the entry stays in the log).
 * A route that takes its reply over calls `reply.auditBeforeHijack()` first, as that step is skipped
 * for it. Without `record` (an app with no audit trail) nothing is audited.
 */
export function registerAdminAudit(app: FastifyInstance, record: ((entry: AdminAuditEntry) => Promise<void>) | undefined): void {
  app.decorateRequest('auditDetails', null);
  /** Whether the request needed no entry or its entry was written. */
  const audit = async (request: FastifyRequest, status: number): Promise<boolean> => {
    const refused = request.principal === null ? request.refusedToken : null;
    const principal = request.principal ?? refused?.principal;
    if (record === undefined || principal?.role !== 'admin') return true;
    // Storable before it is written: a request refused for a NUL in its query or path brings it along
    // (params and query as sent), and jsonb refused the entry (22P05), so the admin got 503 for a 400.
    const entry = storableCopy<AdminAuditEntry>({
      actorId: principal.subject,
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      // A token minted under another name: its minters too, so that the entry traces back to them.
      target: {
        params: request.params ?? {},
        query: request.query ?? {},
        ...(principal.mintedBy === undefined ? {} : { mintedBy: principal.mintedBy, mintChain: principal.mintChain }),
        ...(refused === null ? {} : { refused: refused.code }),
        ...request.auditDetails,
      },
      status,
      requestId: String(request.id),
    });
    request.log.info({ audit: entry }, 'admin request');
    try {
      await record(entry);
      return true;
    } catch (error) {
      // A refused token's 401 stands: it let nothing happen, and a 503 would only tell the caller less.
      if (refused !== null) {
        request.log.error({ err: error, audit: entry }, 'could not write the admin audit entry of a refused token; its 401 stands');
        return true;
      }
      request.log.error({ err: error, audit: entry }, 'could not write the admin audit entry; the answer is withheld (503)');
      return false;
    }
  };
  // onSend, not onResponse: the entry is written before the admin sees the answer.
  app.addHook('onSend', async (request, reply, payload) => {
    const handled = reply.statusCode;
    if (await audit(request, handled)) return payload;
    const error = new AuditUnavailableError(handled);
    reply.status(error.status).type('application/problem+json; charset=utf-8');
    return JSON.stringify(problemDocument(request, error.status, error.code, error.message, { ...error.details }));
  });
  app.decorateReply('auditBeforeHijack', async function (this: FastifyReply) {
    if (!(await audit(this.request, 200))) throw new AuditUnavailableError(undefined);
  });
}
