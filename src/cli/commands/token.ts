import { courierDispatchPort, SERVICE_NAMES } from '../../composition/services.ts';
import { commandTenantRouter, openCommandDatabases } from '../../composition/runtime.ts';
import { createTokenService, loadOrCreateSecret, ROLES, TOKEN_TTL_SECONDS, type Role } from '../../platform/auth/index.ts';
import { loadConfig } from '../../platform/config/index.ts';
import { unitOfWork } from '../../platform/db/index.ts';
import { ValidationError } from '../../platform/errors/index.ts';
import type { CommitStatementsFn, TenantRouter, UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { CourierStillOnDispatchError, mintToken, newTokenRevocationProblems, recordAdminAudit, revokeTokens } from '../../services/platform/index.ts';
import { nameRuleInWords } from '../nameRuleInWords.ts';
import { numberFlag } from '../numberFlag.ts';
import { parse } from '../parse.ts';
import { UsageError } from '../usage.ts';
import type { CommandContext } from './types.ts';

export const usage = `Usage: brigade token --role staff|courier|customer|admin [--restaurant ID] [--subject ID] [--ttl SECONDS] [--reset]
       brigade token revoke --role staff|courier|admin|customer --subject ID [--reason TEXT]

Prints a bearer token signed with BRIGADE_SECRET (or the secret generated under BRIGADE_HOME).
A staff token needs --restaurant, a restaurant of the database (DATABASE_URL, or the embedded one):
brigade tenants add creates one, brigade tenants list shows their ids.
A customer token with --subject carries the customer's credentials version, read from that database
(a token of an older one is refused: a password change or reset revokes earlier tokens).
--reset (a customer token with --subject) mints a reset token: after DELETE /v1/customers/ID/password,
the customer sets their first password with it, which a customer token minted without it cannot.
--subject defaults to a new UUID; --ttl defaults to 43200 (12 h), from ${TOKEN_TTL_SECONDS.min} to ${TOKEN_TTL_SECONDS.max} (30 days).

revoke refuses every token of the role and subject issued up to now (401 TOKEN_REVOKED), as
POST /v1/admin/token-revocations does: a staff member let go, a courier removed, a leaked admin token,
a customer's lost phone (their password stays: they sign in again). --subject is the tokens' subject
(a UUID; an admin's name). Revoking an admin also refuses the tokens minted through them (POST /v1/tokens
with their token, and the tokens minted with those), whatever their role. Revoking a courier also
takes them off dispatch (offline, or offline after the order they carry), as
POST /v1/couriers/ID/availability does. Tokens minted once it has answered are valid. It writes to the database
(DATABASE_URL, or the embedded one) and is recorded in the admin audit log as actor "cli".`;

/** The token service's field names, as this command's flags. */
const FLAGS: Readonly<Record<string, string>> = { restaurantId: '--restaurant', subject: '--subject', ttlSeconds: '--ttl', role: '--role', reason: '--reason', reset: '--reset' };

/** Whose id `--subject` is, by role: what `brigade token revoke` without it asks for. */
const SUBJECT_OF: Readonly<Record<Role, string>> = {
  admin: "the admin's name, their tokens' subject",
  staff: "the staff member's id (a UUID)",
  courier: "the courier's id (a UUID)",
  customer: "the customer's id (a UUID)",
};

/** `brigade token …` and `brigade token revoke …`: the checks of `POST /v1/tokens` (`mintToken`) and of `POST /v1/admin/token-revocations` (`revokeTokens`). */
export async function run(args: readonly string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parse(
    args,
    { role: { type: 'string' }, restaurant: { type: 'string' }, subject: { type: 'string' }, ttl: { type: 'string' }, reason: { type: 'string' }, reset: { type: 'boolean' } },
    usage,
    1,
  );
  if (values.help) return ctx.io.out(usage), 0;
  const [action] = positionals;
  if (action !== undefined && action !== 'revoke') {
    throw new UsageError(`Unknown action ${JSON.stringify(action)}: brigade token --role … mints a token, brigade token revoke … revokes tokens`, usage);
  }
  const revoking = action === 'revoke';
  if (revoking) {
    for (const flag of ['restaurant', 'ttl', 'reset'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with brigade token, not brigade token revoke: a revocation is of a role and a subject`, usage);
    }
  } else if (values.reason !== undefined) {
    throw new UsageError('--reason goes with brigade token revoke', usage);
  }
  const role = values.role as string | undefined;
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`, usage);
  if (revoking) {
    if (values.subject === undefined) throw new UsageError(`token revoke needs --subject ID: ${SUBJECT_OF[role as Role]}`, usage);
    // The rules of POST /v1/admin/token-revocations (one schema), checked before any database is opened.
    const [problem] = newTokenRevocationProblems({ role, subject: values.subject, ...(values.reason === undefined ? {} : { reason: values.reason }) });
    if (problem !== undefined) throw new UsageError(`${FLAGS[problem.field] ?? problem.field} ${problem.field === 'reason' ? nameRuleInWords(problem.message) : problem.message}`, usage);
  }
  const ttl = values.ttl === undefined ? undefined : numberFlag('ttl', values.ttl, { min: TOKEN_TTL_SECONDS.min, max: TOKEN_TTL_SECONDS.max, unit: 'seconds', maxNote: '(30 days)' }, usage);
  const config = loadConfig(ctx.env, { services: SERVICE_NAMES });
  // The database (DATABASE_URL, or the embedded one) is opened only if it is read or written: for a
  // staff token (the directory), a customer token with a subject (the customer's credentials version),
  // or a revocation (a courier's in delivery's database too: it takes them off dispatch, and hands the
  // orders they have not picked up back through ordering, whose streams live with their restaurant:
  // those commands go through the tenant router, as `brigade sagas` does).
  let opened: Awaited<ReturnType<typeof openCommandDatabases>> | undefined;
  const open = async () => (opened ??= await openCommandDatabases(config, 1, ctx.io.err));
  const transaction: UnitOfWorkFn = async (context, fn) => unitOfWork((await open()).databases.poolFor(context.service), context, fn);
  let router: TenantRouter | undefined;
  const routed = async () => (router ??= commandTenantRouter((await open()).databases));
  const commitStatements: CommitStatementsFn = async (context, statements) => (await routed()).commitStatements(context, statements);
  // A staff member not in the shared database is looked for in each restaurant's own (the directory's
  // staff rows move with their restaurant), so a moved one is not reported as no such row.
  const findInEveryDatabase: TenantRouter['findInEveryDatabase'] = async (context, fn, lookup) => (await routed()).findInEveryDatabase(context, fn, lookup);
  try {
    if (revoking) {
      const request = { role: role as Role, subject: values.subject as string, ...(values.reason === undefined ? {} : { reason: values.reason }) };
      const audit = (target: Record<string, unknown>, status: number) =>
        transaction({ service: 'platform', actor: { kind: 'admin', id: 'cli' } }, (tx) =>
          recordAdminAudit(tx, { actorId: 'cli', method: 'CLI', route: 'brigade token revoke', target, status, requestId: `cli-${process.pid}` }),
        );
      const revoked = await revokeTokens({ unitOfWork: transaction, findInEveryDatabase, dispatch: courierDispatchPort({ unitOfWork: transaction, commitStatements }) }, 'cli', request).catch(async (error: unknown) => {
        // The revocation stands though the courier is still on dispatch: audited as the route's 503 is.
        if (error instanceof CourierStillOnDispatchError) await audit({ revoked: error.revocation, takenOffDispatch: null, error: error.code }, 0);
        throw error;
      });
      const target = { revoked: { role: revoked.role, subject: revoked.subject, reason: revoked.reason, revokedBefore: revoked.revokedBefore } };
      await audit(revoked.takenOffDispatch === undefined ? target : { ...target, takenOffDispatch: revoked.takenOffDispatch }, 0);
      const anew = `brigade token --role ${revoked.role}${revoked.role === 'staff' ? ' --restaurant ID' : ''} --subject ${revoked.subject} mints one${revoked.role === 'customer' ? ', or they sign in' : ''}`;
      ctx.io.out(`revoked the ${revoked.role} tokens of ${revoked.subject} issued up to ${revoked.revokedBefore} (that second included); tokens issued from ${revoked.validFrom} on are valid (${anew})`);
      if (revoked.alsoRefused !== undefined) ctx.io.out(revoked.alsoRefused);
      if (revoked.takenOffDispatch !== undefined) ctx.io.out(revoked.takenOffDispatch);
      if (revoked.passwordStays !== undefined) ctx.io.out(revoked.passwordStays);
      if (revoked.unmatched !== undefined) ctx.io.out(revoked.unmatched);
      return 0;
    }
    const request = { role: role as Role, ...(values.restaurant === undefined ? {} : { restaurantId: values.restaurant }), ...(values.subject === undefined ? {} : { subject: values.subject }), ...(values.reset === true ? { reset: true } : {}) };
    ctx.io.out(await mintToken({ unitOfWork: transaction, tokens: createTokenService(await loadOrCreateSecret(config.secret, config.home)) }, request, ttl));
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // The checks name their fields (restaurantId, ttlSeconds, subject); here they are flags.
    const field = error.details.field;
    const flag = typeof field === 'string' ? FLAGS[field] : undefined;
    const message = error.message.replace(/\b(restaurantId|ttlSeconds)\b/g, (name) => FLAGS[name] ?? name);
    throw new UsageError(flag === undefined || message.startsWith(flag) ? message : `${flag}: ${message}`, usage);
  } finally {
    await opened?.close();
  }
  return 0;
}
